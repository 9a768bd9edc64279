"""`Authorization: Bearer <token>` for the Mastodon API (docs/api.md, "Mastodon clients")."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request


class BearerTokenAuthentication(TokenAuthentication):
    """Our DRF token (accounts.services.issue_token, `POST /api/v1/auth/token`) under the
    keyword OAuth 2 and every Mastodon client send. An unknown, malformed or inactive user's
    token is a 401 (DRF's checks); no header is an anonymous request."""

    keyword = "Bearer"

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="mastodon"'
