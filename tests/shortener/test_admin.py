import pytest

from shortener.models import Link, PendingInvalidation
from tests.accounts.factories import UserFactory
from tests.shortener.factories import LinkFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_lists_links_and_searches_by_code_and_owner(admin_client):
    LinkFactory(code="findme", owner=UserFactory(username="ownerx"))
    LinkFactory(code="other1")

    by_code = admin_client.get("/admin/shortener/link/?q=findme").content.decode()
    by_owner = admin_client.get("/admin/shortener/link/?q=ownerx").content.decode()

    assert "findme" in by_code and "other1" not in by_code
    assert "findme" in by_owner and "other1" not in by_owner


def test_an_admin_edit_reaches_the_next_redirect(
    admin_client, client, django_capture_on_commit_callbacks
):
    link = LinkFactory(code="edited", long_url="https://example.com/old")
    assert client.get("/edited")["Location"] == "https://example.com/old"  # now cached

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/shortener/link/{link.id}/change/",
            {"long_url": "https://example.com/new", "owner": link.owner_id, "redirect_type": 302},
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Link.objects.get(id=link.id).long_url == "https://example.com/new"
    assert client.get("/edited")["Location"] == "https://example.com/new"
    assert not PendingInvalidation.objects.exists()  # through the outbox, and done


def test_deleting_links_in_the_admin_drops_their_cached_copies(
    admin_client, client, django_capture_on_commit_callbacks
):
    links = [LinkFactory(code=f"gone-{i}") for i in range(3)]
    for link in links:
        assert client.get(f"/{link.code}").status_code == 302  # cached

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/shortener/link/",
            {"action": "delete_selected", "_selected_action": [x.id for x in links], "post": "yes"},
        )

    assert response.status_code == 302
    assert [client.get(f"/{link.code}").status_code for link in links] == [404, 404, 404]
    assert not PendingInvalidation.objects.exists()


def test_pending_invalidations_are_listed_for_operators(admin_client):
    PendingInvalidation.objects.create(code="stuck1")

    page = admin_client.get("/admin/shortener/pendinginvalidation/").content.decode()

    assert "stuck1" in page
