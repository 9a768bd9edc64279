"""What a newcomer sees first: pages true to what runs, the admin's wording, a quiet console."""

import logging
from io import StringIO

import pytest
from django.core.management.base import OutputWrapper

from accounts import demo
from accounts.models import User
from core.checks import check_demo_data
from shortener.models import ClickFlush
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db

UNBUILT = {"/payments/": "Payments"}
BUILT = {"/shortener/": "URL shortener", "/timeline/": "Timeline", "/ratelimit/": "Rate limiter"}


def test_the_home_page_says_payments_are_coming_not_running(client):
    html = client.get("/").content.decode()

    for path, title in UNBUILT.items():
        card = html.split(f'<a href="{path}">{title}</a></h3>', 1)[1].split("</li>", 1)[0]
        assert "Coming: not built yet" in card
        assert "Explore" not in card
    for path, title in BUILT.items():
        card = html.split(f'<a href="{path}">{title}</a></h3>', 1)[1].split("</li>", 1)[0]
        assert "Explore" in card and "Coming" not in card
    assert "Each system gets a REST API" not in html
    assert "built for real" not in html


def test_the_navigation_marks_payments_as_coming(client):
    html = client.get("/").content.decode()
    nav = html.split('data-testid="nav-systems"', 1)[1].split("</ul>", 1)[0]

    for path, title in UNBUILT.items():
        item = nav.split(f'<a href="{path}">{title}</a>', 1)[1].split("</li>", 1)[0]
        assert "coming" in item
    for path, title in BUILT.items():
        assert f'<a href="{path}">{title}</a></li>' in nav


def test_the_footer_does_not_claim_four_running_systems(client):
    html = client.get("/").content.decode()

    assert "four systems" not in html


def test_the_api_description_names_only_what_runs(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    description = schema["info"]["description"]

    assert "REST API of the URL shortener, timeline, payments" not in description
    assert "URL shortener" in description
    assert "not built yet" in description


def test_the_stats_page_says_curl_and_scripts_count_as_bot_hits(client):
    owner = UserFactory()
    link = LinkFactory(owner=owner, code="statsx")
    client.force_login(owner)

    html = client.get(f"/shortener/links/{link.code}/stats/").content.decode()

    assert "curl" in html
    assert "browser" in html


def test_the_admin_says_click_flushes(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    html = client.get("/admin/").content.decode()

    assert ClickFlush._meta.verbose_name_plural == "click flushes"
    assert "Click flushes" in html
    assert "Click flushs" not in html


def test_the_deploy_check_names_demo_accounts_that_keep_their_public_password():
    demo.seed(stdout=OutputWrapper(StringIO()))
    alice = User.objects.get(username="alice")
    alice.set_password("alice-own-passphrase")
    alice.save()

    errors = check_demo_data(None)

    assert [error.id for error in errors] == ["accounts.E001"]
    assert "admin, bob, carol" in errors[0].msg
    assert "alice" not in errors[0].msg


def test_the_deploy_check_passes_without_demo_accounts():
    UserFactory(username="dana")

    assert check_demo_data(None) == []


def test_routine_task_lines_are_quiet_and_task_failures_are_not():
    # The worker logs "received" and "succeeded" for every task at INFO: with beat's two tasks
    # every 5 s that buried the demo credentials. Failures are logged at ERROR.
    for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(name).isEnabledFor(logging.ERROR), name


def test_with_debug_on_a_django_log_line_is_printed_once():
    # Django's default logging adds a console handler to "django" when DEBUG is on; with the
    # root's handler too, `make run` printed each 404 twice.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate
