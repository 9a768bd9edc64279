from django.urls import path

from accounts import api

urlpatterns = [
    path("register", api.UserRegisterApi.as_view(), name="auth-register"),
    path("token", api.TokenIssueApi.as_view(), name="auth-token"),
    path("me", api.CurrentUserDetailApi.as_view(), name="auth-me"),
]
