"""The shortener's pages, mounted at /shortener/. The short links themselves (/{code} and the
preview /{code}+) are top-level routes: shortener/redirect_urls.py."""

from django.urls import path

from shortener import converters as _converters  # noqa: F401  (registers `shortcode`)
from shortener import views

app_name = "shortener"
urlpatterns = [
    path("", views.index, name="index"),
    path("links/", views.my_links, name="links"),
    path("links/<shortcode:code>/edit/", views.edit, name="edit"),
    path("links/<shortcode:code>/delete/", views.delete, name="delete"),
    path("links/<shortcode:code>/stats/", views.stats, name="stats"),
    path("links/<shortcode:code>/qr.svg", views.qr_svg, name="qr_svg"),
    path("links/<shortcode:code>/qr.png", views.qr_png, name="qr_png"),
]
