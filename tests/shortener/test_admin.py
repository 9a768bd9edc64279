import pytest

from shortener.models import Link
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
