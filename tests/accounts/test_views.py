"""Browser pages through Django's test client: sign up, sign in, sign out, navigation."""

import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import override_settings
from django.views.defaults import server_error

from accounts.models import User
from tests.accounts.factories import PASSWORD, UserFactory
from tests.ratelimit.test_redis_down import dead_redis  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

SYSTEM_PAGES = {
    "/shortener/": "URL shortener",
    "/timeline/": "Timeline",
    "/payments/": "Payments",
    "/ratelimit/": "Rate limiter",
}


def signup(client, username: str, password: str = PASSWORD, password2: str | None = None):
    body = {"username": username, "password1": password, "password2": password2 or password}
    return client.post("/accounts/signup/", body)


def assert_nav(html: str) -> None:
    assert 'aria-label="Main"' in html
    for path, title in SYSTEM_PAGES.items():
        assert f'href="{path}"' in html
        assert title in html
    assert 'href="/api/docs/"' in html
    assert 'href="/admin/"' in html


def test_signup_creates_the_user_signs_them_in_and_redirects_home(client):
    response = signup(client, "dana")

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user(client)
    assert user.is_authenticated
    assert user.username == "dana"
    home = client.get("/").content.decode()
    assert "Signed in as <strong>dana</strong>" in home
    assert "Welcome, dana." in home


def test_signup_with_a_name_taken_in_another_case_shows_a_form_error(client):
    UserFactory(username="dana")

    response = signup(client, "DANA")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("A user with that username already exists.") == 1
    assert 'aria-invalid="true"' in html
    assert User.objects.count() == 1
    assert not get_user(client).is_authenticated


def test_signup_with_a_weak_password_says_why(client):
    response = signup(client, "dana", "123")

    html = response.content.decode()
    assert response.status_code == 200
    assert "This password is too short." in html
    assert not User.objects.exists()


def test_signup_with_mismatched_passwords_shows_an_error(client):
    response = signup(client, "dana", PASSWORD, "something-else-entirely")

    assert response.status_code == 200
    assert "The two password fields didn" in response.content.decode()
    assert not User.objects.exists()


def test_signup_page_redirects_a_signed_in_user_home(client):
    client.force_login(UserFactory())

    assert client.get("/accounts/signup/")["Location"] == "/"


def test_login_signs_in_with_the_username_in_any_case_and_redirects_home(client):
    UserFactory(username="dana")

    response = client.post("/accounts/login/", {"username": "Dana", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert get_user(client).username == "dana"


def test_login_follows_next_to_the_page_the_user_came_from(client):
    UserFactory(username="dana")

    body = {"username": "dana", "password": PASSWORD, "next": "/payments/"}
    response = client.post("/accounts/login/", body)

    assert response["Location"] == "/payments/"


def test_login_with_a_wrong_password_shows_an_error(client):
    UserFactory(username="dana")

    response = client.post("/accounts/login/", {"username": "dana", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not get_user(client).is_authenticated


def test_logout_is_post_only_and_signs_out(client):
    client.force_login(UserFactory())

    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")

    assert response["Location"] == "/"
    assert not get_user(client).is_authenticated
    assert "You have signed out." in client.get("/").content.decode()


@pytest.mark.parametrize("path", ["/", *SYSTEM_PAGES])
def test_every_page_returns_200_with_the_navigation_for_anonymous_users(client, path):
    response = client.get(path)

    html = response.content.decode()
    assert response.status_code == 200
    assert_nav(html)
    assert 'href="/accounts/login/' in html
    assert 'href="/accounts/signup/"' in html
    assert "Signed in as" not in html


@pytest.mark.parametrize("path", ["/", *SYSTEM_PAGES])
def test_every_page_shows_the_user_and_a_sign_out_form_when_signed_in(client, path):
    client.force_login(UserFactory(username="dana"))

    html = client.get(path).content.decode()
    assert_nav(html)
    assert "Signed in as <strong>dana</strong>" in html
    assert 'action="/accounts/logout/"' in html


@pytest.mark.parametrize(("path", "title"), SYSTEM_PAGES.items())
def test_system_page_marks_itself_current_in_the_navigation_and_says_what_is_coming(
    client, path, title
):
    html = client.get(path).content.decode()

    assert f'<a href="{path}" aria-current="page">{title}</a>' in html
    assert f'<h1 id="page-title">{title}' in html  # "Rate limiter lab" too
    if path == "/payments/":  # still a placeholder; the others are built
        assert "Nothing on this page runs yet." in html


def test_home_has_a_card_per_system(client):
    html = client.get("/").content.decode()

    for path, title in SYSTEM_PAGES.items():
        assert f'<h3 class="card-title"><a href="{path}">{title}</a></h3>' in html


def test_pages_load_the_stylesheet_by_its_hashed_name(client):
    html = client.get("/").content.decode()

    assert "/static/css/site." in html
    assert 'href="/static/css/site.css"' not in html


def test_an_unknown_page_is_a_404_with_the_navigation(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert_nav(response.content.decode())
    assert "There is nothing at this address" in response.content.decode()


def test_the_server_error_page_renders_without_a_request_context(rf):
    response = server_error(rf.get("/"))

    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


# --- rate limits on the sign-in and sign-up forms (docs/ratelimit.md) ----------------------------


class CountingHasher(MD5PasswordHasher):
    """The tests' MD5 hasher, counting the hashes it computes: proof of what a refusal spared."""

    hashes = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.hashes += 1
        return super().encode(password, salt)


def policies(**scopes: dict) -> dict:
    return {**settings.RATELIMIT_POLICIES, **scopes}


def log(limit: int, key: str, window: float = 300) -> dict:
    return {"algorithm": "sliding_log", "limit": limit, "window": window, "key": key,
            "methods": ["POST"], "on_redis_down": "fail_closed"}  # fmt: skip


@pytest.fixture
def counting_hasher(settings):
    settings.PASSWORD_HASHERS = ["tests.accounts.test_views.CountingHasher"]
    CountingHasher.hashes = 0
    return CountingHasher


def sign_in(client, username: str, password: str, path: str = "/accounts/login/", **meta: str):
    return client.post(path, {"username": username, "password": password}, **meta)


def assert_refused_page(response, message: str = "Too many sign-in attempts.") -> str:
    html = response.content.decode()
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) >= 1
    assert message in html and "Try again in " in html
    assert '<h1 id="page-title">Please wait before trying again</h1>' in html
    assert_nav(html)  # the site's own page, not a bare error
    return html


def test_eighty_wrong_passwords_then_the_right_one_stop_at_the_username_limit(client):
    # The report: 80 wrong then the right one, all 200. With the default policies,
    # `login_username` allows 10 tries per 5 minutes (login_ip's 60 is not reached first).
    UserFactory(username="dana")

    answers = [sign_in(client, "dana", f"guess-{i}").status_code for i in range(80)]
    right = sign_in(client, "dana", PASSWORD)

    assert answers == [200] * 10 + [429] * 70
    assert_refused_page(right)
    assert not get_user(client).is_authenticated


@override_settings(RATELIMIT_POLICIES=policies(login_ip=log(3, "ip")))
def test_sign_in_is_limited_per_client_ip_before_the_password_is_hashed(client, counting_hasher):
    UserFactory(username="dana")
    for _ in range(5):
        assert client.get("/accounts/login/").status_code == 200  # showing the form is free
    for name in ("dana", "erin", "fred"):
        assert sign_in(client, name, "wrong").status_code == 200
    hashed = counting_hasher.hashes

    refused = sign_in(client, "gina", PASSWORD)

    assert_refused_page(refused)
    assert counting_hasher.hashes == hashed  # refused before the hash
    assert '"login_ip";r=0' in refused["RateLimit"]
    other_address = sign_in(client, "dana", PASSWORD, REMOTE_ADDR="198.51.100.9")
    assert other_address.status_code == 302


@override_settings(RATELIMIT_POLICIES=policies(login_username=log(3, "username")))
def test_sign_in_is_limited_per_username_in_any_case_from_any_address(client):
    UserFactory(username="dana")
    for i, name in enumerate(("dana", "DANA", "Dana")):
        assert sign_in(client, name, "wrong", REMOTE_ADDR=f"198.51.100.{i}").status_code == 200

    assert_refused_page(sign_in(client, "dAnA", PASSWORD, REMOTE_ADDR="203.0.113.1"))
    UserFactory(username="erin")
    assert sign_in(client, "erin", PASSWORD).status_code == 302  # other users are unaffected


@override_settings(RATELIMIT_POLICIES=policies(login_username=log(2, "username")))
def test_successful_sign_ins_count_too(client):
    # The count comes before the password is checked (that is the point), so it cannot know the
    # outcome: a right password uses the budget like a wrong one.
    UserFactory(username="dana")
    for _ in range(2):
        assert sign_in(client, "dana", PASSWORD).status_code == 302
        client.post("/accounts/logout/")

    assert_refused_page(sign_in(client, "dana", PASSWORD))


@override_settings(RATELIMIT_POLICIES=policies(login_username=log(2, "username", window=1)))
def test_a_locked_username_opens_again_one_window_after_the_guessing_stops(client):
    # Refused attempts are not counted (the sliding log writes nothing for them), so an attacker
    # hammering a locked name cannot keep its owner out past the window.
    UserFactory(username="dana")
    sign_in(client, "dana", "wrong")
    sign_in(client, "dana", "wrong")
    for _ in range(20):
        assert sign_in(client, "dana", "wrong").status_code == 429

    time.sleep(1.1)

    assert sign_in(client, "dana", PASSWORD).status_code == 302


@override_settings(
    RATELIMIT_POLICIES=policies(login_ip=log(2, "ip"), login_username=log(2, "username"))
)
def test_the_admin_sign_in_draws_from_the_same_limits(client, counting_hasher):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    assert client.get("/admin/login/").status_code == 200
    assert sign_in(client, "root", "wrong", path="/admin/login/").status_code == 200
    assert sign_in(client, "root", "wrong").status_code == 200  # the site's form: same budget
    hashed = counting_hasher.hashes

    refused = sign_in(client, "root", PASSWORD, path="/admin/login/?next=/admin/")

    assert_refused_page(refused)
    assert counting_hasher.hashes == hashed
    assert client.get("/admin/").status_code == 302  # not signed in


REGISTER_2_PER_HOUR = {"algorithm": "sliding_counter", "limit": 2, "window": 3600, "key": "ip"}


@override_settings(RATELIMIT_POLICIES=policies(auth_register=REGISTER_2_PER_HOUR))
def test_sign_up_draws_from_the_api_registration_limit_per_ip(client, api_client):
    assert client.get("/accounts/signup/").status_code == 200  # the form is free
    assert signup(client, "dana").status_code == 302
    client.post("/accounts/logout/")
    body = {"username": "erin", "password": PASSWORD}
    assert api_client.post("/api/v1/auth/register", body, format="json").status_code == 201

    refused = signup(client, "fred")

    assert_refused_page(refused, "Too many sign-ups from your network.")
    assert not User.objects.filter(username="fred").exists()


def test_sign_in_page_answers_503_while_redis_is_down_the_limit_fails_closed(
    client,
    dead_redis,  # noqa: F811
):
    UserFactory(username="dana")

    response = sign_in(client, "dana", PASSWORD)

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert "The rate limiter is unavailable" in response.content.decode()
    assert not get_user(client).is_authenticated


# --- look-alike usernames and blank passwords on the form ---------------------------------------


def test_signup_refuses_a_name_mixing_scripts_and_says_why(client):
    response = signup(client, "\u0430lice")  # Cyrillic a, then Latin

    html = response.content.decode()
    assert response.status_code == 200
    assert "this name mixes Cyrillic and Latin" in html
    assert not User.objects.exists()


@pytest.mark.parametrize("lookalike", ["aIice", "a1ice"])  # capital i; digit one
def test_signup_refuses_a_name_that_looks_like_an_existing_one(client, lookalike):
    UserFactory(username="alice")

    response = signup(client, lookalike)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("This username looks too much like an existing one.") == 1
    assert 'aria-invalid="true"' in html
    assert User.objects.count() == 1


def test_signup_refuses_a_password_of_spaces(client):
    response = signup(client, "dana", " " * 20)

    assert response.status_code == 200
    assert "This password is only spaces." in response.content.decode()
    assert not User.objects.exists()


def test_the_admin_refuses_a_look_alike_username_as_a_form_error(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    UserFactory(username="alice")
    body = {"username": "a1ice", "usable_password": "true", "password1": PASSWORD,
            "password2": PASSWORD}  # fmt: skip

    response = client.post("/admin/accounts/user/add/", body)

    assert response.status_code == 200
    assert "This username looks too much like an existing one." in response.content.decode()
    assert not User.objects.filter(username="a1ice").exists()


def test_the_sign_in_page_promises_only_what_runs(client):
    html = client.get("/accounts/login/").content.decode()

    assert "post and pay" not in html
    assert "Sign in to keep your short links" in html
