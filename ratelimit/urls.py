from django.urls import path

from ratelimit import views

app_name = "ratelimit"
urlpatterns = [
    path("", views.index, name="index"),
    path("lab/check", views.LabCheckApi.as_view(), name="lab-check"),
    path("lab/memory", views.LabMemoryApi.as_view(), name="lab-memory"),
    path("lab/reset", views.LabResetApi.as_view(), name="lab-reset"),
]
