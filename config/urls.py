"""Top-level routes. Each app owns its pages (`<app>/urls.py`) and API (`<app>/api_urls.py`).

Every top-level path segment here is reserved: the shortener refuses it as a custom alias.
"""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.views import sign_in_limited
from core import views as core_views
from timeline.media_api import media_file

api_v1 = [
    path("auth/", include("accounts.api_urls")),
    path("", include("shortener.api_urls")),
    path("", include("timeline.api_urls")),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    # The admin's sign-in, rate limited like ours (accounts.views.limit_sign_in); first, so it
    # answers /admin/login/ in place of the admin's own route to the same view.
    path("admin/login/", sign_in_limited(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # api_version fixed: drf-spectacular otherwise copies ?version= into a response header and
    # the schema (a CR/LF in it was a 500, markup was echoed).
    path(
        "api/schema/",
        SpectacularAPIView.as_view(api_version=settings.SPECTACULAR_SETTINGS["VERSION"]),
        name="schema",
    ),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("shortener/", include("shortener.urls")),
    path("timeline/", include("timeline.urls")),
    path("payments/", include("payments.urls")),
    path("ratelimit/", include("ratelimit.urls")),
    path("mastodon/", include("timeline.mastodon_urls")),
    # Stored media (timeline/media.py): content-addressed, cached for ever; a CDN's origin.
    path("media/<path:name>", media_file, name="media-file"),
    # Last: every other top-level path is a short code (its first segment is a reserved alias).
    path("", include("shortener.redirect_urls")),
]

handler400 = "core.errors.json_or_html_400"
handler404 = "core.errors.json_or_html_404"
handler500 = "core.errors.json_or_html_500"
