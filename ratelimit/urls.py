from django.urls import path

from ratelimit import views

app_name = "ratelimit"
urlpatterns = [
    path("", views.index, name="index"),
]
