"""License keys and validation over real HTTP, through the local gateway, on DynamoDB Local: the portal
routes, every validation code, receipts checked against the published JWKS, and license keys on consume.

The local stack serves from us-east-1 (its AWS_REGION); keys scoped elsewhere show REGION_NOT_ALLOWED.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import Response, Stack
from tollgate.keys.rules_receipts import InvalidReceipt, verify_receipt

pytestmark = pytest.mark.integration


def create_key(stack: Stack, api_key: str, **body: Any) -> Response:
    body.setdefault("name", "ci runner")
    body.setdefault("regions", ["us", "eu"])
    return stack.call("POST", "/v1/keys", body, key=api_key)


def issue(stack: Stack, api_key: str, **body: Any) -> tuple[str, dict[str, Any]]:
    answer = create_key(stack, api_key, **body)
    assert answer.status == 201, answer.body
    return answer.body["secret"], answer.body["key"]


def validate(stack: Stack, secret: str | None, **body: Any) -> Response:
    return stack.call("POST", "/v1/validate", body, key=secret)


def code_of(stack: Stack, secret: str, **body: Any) -> str:
    answer = validate(stack, secret, **body)
    assert answer.status == 200, answer.body
    return str(answer.body["code"])


def test_issue_list_and_validate_with_a_receipt_checked_offline(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    secret, key = issue(stack, owner, features=["build"], environment="ci")
    assert secret.startswith(f"tgk_us-east-1.{tenant_id}.{key['id']}.")
    assert "secret" not in key
    assert key["features"] == ["build"]
    listed = stack.call("GET", "/v1/keys", key=owner)
    assert listed.status == 200
    assert [k["id"] for k in listed.body["keys"]] == [key["id"]]
    assert secret not in str(listed.body)

    answer = validate(stack, secret, feature="build", region="eu-west-1", fingerprint="host-1")
    assert answer.status == 200
    assert (answer.body["valid"], answer.body["code"]) == (True, "VALID")
    jwks = stack.call("GET", "/v1/.well-known/jwks.json")
    assert jwks.status == 200
    assert jwks.body["keys"][0]["kty"] == "OKP"
    claims = verify_receipt(answer.body["receipt"], jwks.body)
    assert (claims["key_id"], claims["tenant_id"], claims["fingerprint"]) == (key["id"], tenant_id, "host-1")
    header, payload, signature = answer.body["receipt"].split(".")
    with pytest.raises(InvalidReceipt):
        verify_receipt(f"{header}.{payload}.{signature[::-1]}", jwks.body)


def test_missing_or_unparseable_credential_is_401(stack: Stack) -> None:
    for credential in (None, "tgk_nope", "tg_abc"):
        answer = validate(stack, credential)
        assert answer.status == 401
        assert answer.body["error"]["code"] == "UNAUTHENTICATED"
        assert answer.body["error"]["request_id"]


def test_every_refusal_code_end_to_end(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    other_tenant, _ = stack.signup("Globex")
    project = stack.call("POST", "/v1/projects", {"name": "farm"}, key=owner).body["project"]
    other_project = stack.call("POST", "/v1/projects", {"name": "other"}, key=owner).body["project"]

    secret, key = issue(stack, owner, features=["build"], project_id=project["id"])
    assert code_of(stack, secret, feature="build", project=project["id"]) == "VALID"
    assert code_of(stack, secret, feature="deploy") == "FEATURE_NOT_ENTITLED"
    assert code_of(stack, secret, project=other_project["id"]) == "PROJECT_NOT_ALLOWED"
    assert code_of(stack, secret, region="ap-south-1") == "REGION_NOT_ALLOWED"  # the client's region
    eu_only, _ = issue(stack, owner, regions=["eu"])
    assert code_of(stack, eu_only) == "REGION_NOT_ALLOWED"  # the serving region, us-east-1

    head, tail = secret.rsplit(".", 1)
    assert code_of(stack, f"{head}.{'a' * 32}") == "NOT_FOUND"
    swapped = secret.replace(tenant_id, other_tenant)
    answer = validate(stack, swapped)
    assert (answer.status, answer.body["code"], answer.body["key"]) == (200, "NOT_FOUND", None)

    revoked = stack.call("DELETE", f"/v1/keys/{key['id']}", key=owner)
    assert revoked.status == 200
    assert revoked.body["key"]["revoked_at"] is not None
    assert code_of(stack, secret) == "REVOKED"
    assert tail not in str(stack.items())


def test_expired_key(stack: Stack) -> None:
    _, owner = stack.signup()
    _, probe = issue(stack, owner)
    now = datetime.strptime(probe["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    # an hour ahead, so no stall of a loaded machine between issuing and validating can end it; the
    # application clock then moves past it
    soon = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    secret, key = issue(stack, owner, expires_at=soon)
    assert key["expires_at"] == soon
    assert code_of(stack, secret) == "VALID"
    stack.advance(3600 + 10)
    assert code_of(stack, secret) == "EXPIRED"


def test_suspended_tenant_and_license_keys_on_consume(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    secret, _ = issue(stack, owner, features=["build"])

    def consume(feature: str = "build", **headers: str) -> Response:
        return stack.call(
            "POST", "/v1/consume", {"feature": feature}, key=secret, Idempotency_Key=uuid.uuid4().hex, **headers
        )

    assert consume().status == 200
    refused = consume("deploy")
    assert refused.status == 403
    refused = consume(X_Tollgate_Region="ap-south-1")
    assert (refused.status, refused.body["error"]["code"]) == (403, "REGION_NOT_ALLOWED")

    assert stack.operator("suspend", "--tenant", tenant_id).returncode == 0
    assert code_of(stack, secret) == "SUSPENDED"
    refused = consume()
    assert (refused.status, refused.body["error"]["code"]) == (403, "TENANT_SUSPENDED")
    assert stack.operator("resume", "--tenant", tenant_id).returncode == 0
    assert code_of(stack, secret) == "VALID"


def test_rotate_and_revoke_take_effect_on_the_next_call(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 10)
    secret, key = issue(stack, owner)
    rotated = stack.call("POST", f"/v1/keys/{key['id']}/rotate", key=owner)
    assert rotated.status == 200
    assert rotated.body["key"]["id"] == key["id"]
    new_secret = rotated.body["secret"]
    assert code_of(stack, secret) == "NOT_FOUND"
    assert code_of(stack, new_secret) == "VALID"
    assert stack.call("DELETE", f"/v1/keys/{key['id']}", key=owner).status == 200
    consumed = stack.call("POST", "/v1/consume", {"feature": "build"}, key=new_secret, Idempotency_Key="k-1")
    assert (consumed.status, consumed.body["error"]["code"]) == (401, "UNAUTHENTICATED")
    assert stack.call("POST", f"/v1/keys/{key['id']}/rotate", key=owner).status == 409


def test_roles_and_other_tenants(stack: Stack) -> None:
    _, owner = stack.signup()
    _, stranger = stack.signup("Globex")
    _, key = issue(stack, owner)
    member = stack.api_key(owner, "member")
    billing = stack.api_key(owner, "billing")
    admin = stack.api_key(owner, "admin")
    assert create_key(stack, member).status == 403
    assert stack.call("DELETE", f"/v1/keys/{key['id']}", key=member).status == 403
    assert stack.call("GET", "/v1/keys", key=member).status == 200
    assert stack.call("GET", "/v1/keys", key=billing).status == 403
    assert create_key(stack, admin).status == 201
    assert stack.call("DELETE", f"/v1/keys/{key['id']}", key=stranger).status == 404
    assert stack.call("POST", f"/v1/keys/{key['id']}/rotate", key=stranger).status == 404
    assert stack.call("GET", "/v1/keys", key=stranger).body["keys"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"regions": []}, "regions"),
        ({"regions": ["eu-wset-1"]}, "regions"),
        ({"regions": "eu"}, "regions"),
        ({"features": "build"}, "features"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "soon"}, "expires_at"),
        ({"project_id": "pj_0000000000000000"}, "project_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(stack: Stack, body: dict[str, Any], field: str) -> None:
    _, owner = stack.signup()
    answer = create_key(stack, owner, **body)
    assert answer.status == 422, answer.body
    assert answer.body["error"]["field"] == field
    assert stack.call("GET", "/v1/keys", key=owner).body["keys"] == []


def test_minimal_consume_refuses_revoked_and_suspended_at_once(stack: Stack) -> None:
    """``Prefer: return=minimal``: the key may come from a worker's memory; the write still proves it."""
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    secret, key = issue(stack, owner, regions=["*"])

    def consume(idempotency_key: str) -> Any:
        return stack.call(
            "POST",
            "/v1/consume",
            {"feature": "build"},
            key=secret,
            Idempotency_Key=idempotency_key,
            Prefer="return=minimal",
        )

    for n in range(12):  # enough calls that several gateway workers hold the key in memory
        answer = consume(f"warm-{n}")
        assert answer.status == 200 and set(answer.body) == {"charged", "entry_id"}
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == 88
    assert stack.operator("suspend", "--tenant", tenant_id).returncode == 0
    refused = [consume(f"suspended-{n}") for n in range(8)]
    assert {r.status for r in refused} == {403}
    assert stack.operator("resume", "--tenant", tenant_id).returncode == 0
    assert stack.call("DELETE", f"/v1/keys/{key['id']}", key=owner).status == 200
    revoked = [consume(f"revoked-{n}") for n in range(8)]
    assert {r.status for r in revoked} == {401}
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == 88
