"""The timeline's pages, mounted at /timeline/ (the API is timeline/api_urls.py)."""

from django.urls import path

from timeline import views

app_name = "timeline"
urlpatterns = [
    path("", views.index, name="index"),
    path("fanout", views.fanout, name="fanout"),
    path("fanout.json", views.fanout_data, name="fanout-data"),
    path("t/<str:tweet_id>", views.tweet, name="tweet"),
    path("t/<str:tweet_id>/delete", views.delete, name="delete"),
    path("u/<str:username>", views.profile, name="profile"),
    path("u/<str:username>/follow", views.follow, name="follow"),
    path("u/<str:username>/followers", views.followers, name="followers"),
    path("u/<str:username>/following", views.following, name="following"),
]
