"""Link creation from the pages' form draws from the API's `link_create` budget: per user when
signed in (form and API together), per client IP when anonymous, counted before anything is
written. Real PostgreSQL and Redis."""

import pytest
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token

from shortener.models import Link
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

THREE = {
    "algorithm": "token_bucket", "limit": 3, "window": 3600, "burst": 3, "key": "user_or_ip",
    "methods": ["POST"],
}  # fmt: skip


def create(client, n: int = 0, **meta: str):
    return client.post("/shortener/", {"long_url": f"https://example.com/{n}"}, **meta)


def assert_refused_page(response) -> None:
    html = response.content.decode()
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) >= 1
    assert "Too many new links. Try again in " in html


def test_the_default_policy_refuses_the_sixty_first_anonymous_form_post_and_writes_nothing(client):
    # The report: 100 anonymous creations in 1.9 s. The default `link_create` is a
    # token bucket with a burst of 60 (300 an hour).
    answers = [create(client, i).status_code for i in range(61)]

    assert answers == [302] * 60 + [429]
    assert Link.objects.count() == 60


@override_settings(RATELIMIT_POLICIES={**settings.RATELIMIT_POLICIES, "link_create": THREE})
def test_anonymous_form_posts_are_limited_per_client_ip_and_a_refused_one_writes_no_row(client):
    for _ in range(5):
        assert client.get("/shortener/").status_code == 200  # showing the form is free
        assert client.get("/").status_code == 200
    for i in range(3):
        assert create(client, i).status_code == 302

    refused = create(client, 3)

    assert_refused_page(refused)
    assert '"link_create";r=0' in refused["RateLimit"]
    assert Link.objects.count() == 3
    assert create(client, 4, REMOTE_ADDR="198.51.100.20").status_code == 302  # another address


@override_settings(RATELIMIT_POLICIES={**settings.RATELIMIT_POLICIES, "link_create": THREE})
def test_a_signed_in_user_has_one_budget_for_the_form_and_the_api(client, api_client):
    user = UserFactory()
    client.force_login(user)
    token, _ = Token.objects.get_or_create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert create(client, 0).status_code == 302
    assert create(client, 1, REMOTE_ADDR="198.51.100.21").status_code == 302  # any address
    body = {"long_url": "https://example.com/api"}
    assert api_client.post("/api/v1/links", body, format="json").status_code == 201

    from_api = api_client.post("/api/v1/links", body, format="json")
    from_form = create(client, 2)

    assert from_api.status_code == 429
    assert from_api.json()["error"]["code"] == "rate_limited"
    assert_refused_page(from_form)
    assert Link.objects.filter(owner=user).count() == 3
    # The user's posts were counted as the user's, not as the address's.
    assert create(Client(), 9).status_code == 302
