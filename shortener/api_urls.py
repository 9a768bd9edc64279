"""Included at /api/v1/ by config/urls.py."""

from django.urls import path

from shortener import api

urlpatterns = [
    path("links", api.LinkCollectionApi.as_view(), name="links"),
    path("links/bulk", api.LinkBulkCreateApi.as_view(), name="links-bulk"),
    path("links/<str:code>", api.LinkDetailApi.as_view(), name="link-detail"),
    path("links/<str:code>/stats", api.LinkStatsApi.as_view(), name="link-stats"),
]
