import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    # --fail-on-warn: an undocumented field or an unresolvable serializer fails the build.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))

    assert "openapi: 3" in (tmp_path / "s.yaml").read_text()


def test_schema_and_swagger_ui_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def _schema(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_the_schema_states_the_bounds_the_rules_enforce(client):
    from shortener import rules

    schemas = _schema(client)["components"]["schemas"]
    link = schemas["LinkInputRequest"]["properties"]

    assert link["long_url"]["maxLength"] == 2048
    assert link["alias"]["maxLength"] == rules.ALIAS_MAX_LENGTH
    assert link["password"]["maxLength"] == rules.LINK_PASSWORD_MAX_LENGTH
    assert link["max_clicks"]["minimum"] == 1
    assert link["max_clicks"]["maximum"] == rules.MAX_CLICKS_LIMIT
    assert "alias" not in schemas["PatchedLinkPatchRequest"]["properties"]


def test_every_operation_lists_the_errors_any_request_can_meet(client):
    paths = _schema(client)["paths"]

    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert "429" in responses, where
            assert "Retry-After" in responses["429"]["headers"], where
            if "requestBody" in operation:
                assert {"400", "413"} <= set(responses), where
            if {} not in operation.get("security", [{}]):
                assert "401" in responses, where
