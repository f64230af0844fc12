"""Signup, portal auth and errors over real HTTP against the local stack on DynamoDB Local."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Stack, http

pytestmark = pytest.mark.integration


def error_code(answer) -> str:  # type: ignore[no-untyped-def]
    return str(answer.body["error"]["code"])


def test_signup_then_read_profile(stack: Stack) -> None:
    answer = stack.call(
        "POST", "/v1/tenants", {"name": "Acme", "email": "ops@acme.example", "home_region": "eu-west-1"}
    )
    assert answer.status == 201
    owner = answer.body["api_key"]["secret"]
    assert owner.startswith("tg_") and answer.body["api_key"]["role"] == "owner"
    profile = stack.call("GET", "/v1/tenant", key=owner)
    assert profile.status == 200
    assert profile.body["tenant"] == answer.body["tenant"]
    assert profile.body["tenant"]["home_region"] == "eu-west-1"
    owner_id = answer.body["api_key"]["id"]
    caller = profile.body["caller"]
    assert caller["key_id"] == owner_id and caller["role"] == "owner"
    assert "purchases:create" in caller["permissions"] and "license_keys:manage" in caller["permissions"]
    member = stack.api_key(owner, "member")  # who is calling, not who owns the tenant
    seen = stack.call("GET", "/v1/tenant", key=member).body["caller"]
    assert seen["role"] == "member" and seen["key_id"] != owner_id
    assert "purchases:create" not in seen["permissions"] and "license_keys:manage" not in seen["permissions"]


RETRY_KEY = "5f0c2a6e-3b7d-4c1e-9a8f-0d2b4e6f8a1c"  # signup keys are at least 32 characters (a UUID)


def test_signup_is_idempotent_on_retry(stack: Stack) -> None:
    body = {"name": "Retry Ltd", "email": "ops@retry.example"}
    first = stack.call("POST", "/v1/tenants", body, Idempotency_Key=RETRY_KEY)
    again = stack.call("POST", "/v1/tenants", body, Idempotency_Key=RETRY_KEY)
    assert first.status == again.status == 201
    assert first.body == again.body
    other = stack.call("POST", "/v1/tenants", dict(body, name="Else"), Idempotency_Key=RETRY_KEY)
    assert other.status == 409 and error_code(other) == "IDEMPOTENCY_KEY_REUSED"


def test_signup_creates_the_stripe_customer(stack: Stack) -> None:
    tenant_id, _ = stack.signup()
    stored = [i for i in stack.items() if i["pk"]["S"] == f"T#{tenant_id}" and i["sk"]["S"] == "TENANT"]
    customer = stored[0]["stripe_customer_id"]["S"]
    answer = http("GET", f"{stack.stripe_url}/v1/customers/{customer}", headers={"Authorization": "Bearer sk_test_x"})
    assert answer.status == 200 and answer.body["metadata"]["tenant_id"] == tenant_id


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, "MALFORMED_REQUEST"),
        (b"[1, 2]", 400, "MALFORMED_REQUEST"),
        (b'{"name": "", "email": "a@b.co"}', 422, "INVALID_FIELD"),
        (b'{"name": "A", "email": "nope"}', 422, "INVALID_FIELD"),
        (b'{"name": "A", "email": "a@b.co", "home_region": "moon-1"}', 422, "INVALID_FIELD"),
        (b'{"name": "A", "email": "a@b.co", "plan": "gold"}', 422, "INVALID_FIELD"),
    ],
)
def test_bad_signup_input_is_refused_and_writes_nothing(stack: Stack, raw: bytes, status: int, code: str) -> None:
    before = len(stack.items())
    answer = http("POST", stack.api + "/v1/tenants", raw=raw, headers={"Content-Type": "application/json"})
    assert answer.status == status
    assert error_code(answer) == code
    assert answer.body["error"]["request_id"]
    if status == 422:
        assert answer.body["error"]["field"] in {"name", "email", "home_region", "plan"}
    assert len(stack.items()) == before


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer nonsense",
        "Basic abc",
        "Bearer tg_tn_0000000000000000.ak_0000000000000000.00000000000000000000000000000000",
    ],
)
def test_missing_or_unknown_credential_is_401(stack: Stack, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    answer = http("GET", stack.api + "/v1/tenant", headers=headers)
    assert answer.status == 401 and error_code(answer) == "UNAUTHENTICATED"


def test_revoked_key_is_401_at_once(stack: Stack) -> None:
    _, owner = stack.signup()
    member = stack.api_key(owner, "member")
    assert stack.call("GET", "/v1/tenant", key=member).status == 200
    key_id = member.split(".")[1]
    assert stack.call("DELETE", f"/v1/api-keys/{key_id}", key=owner).status == 200
    assert stack.call("GET", "/v1/tenant", key=member).status == 401


def test_wrong_role_is_403(stack: Stack) -> None:
    _, owner = stack.signup()
    member = stack.api_key(owner, "member")
    before = len(stack.items())
    answer = stack.call("POST", "/v1/api-keys", {"name": "x", "role": "admin"}, key=member)
    assert answer.status == 403 and error_code(answer) == "FORBIDDEN"
    assert stack.call("GET", "/v1/api-keys", key=member).status == 403
    assert len(stack.items()) == before


def test_other_tenants_ids_are_404(stack: Stack) -> None:
    _, owner_a = stack.signup("A")
    _, owner_b = stack.signup("B")
    member_a = stack.api_key(owner_a, "member")
    answer = stack.call("DELETE", f"/v1/api-keys/{member_a.split('.')[1]}", key=owner_b)
    assert answer.status == 404 and error_code(answer) == "NOT_FOUND"
    assert stack.call("GET", "/v1/tenant", key=member_a).status == 200  # untouched
    project = stack.call("POST", "/v1/projects", {"name": "web"}, key=owner_a).body["project"]
    assert stack.call("PATCH", f"/v1/projects/{project['id']}", {"budget": 5}, key=owner_b).status == 404


def test_api_key_secrets_are_not_stored_in_clear(stack: Stack) -> None:
    _, owner = stack.signup()
    member = stack.api_key(owner, "member")
    dump = repr(stack.items())
    for secret in (owner, member):
        assert secret not in dump and secret.rsplit(".", 1)[1] not in dump


def test_unknown_route_is_a_json_404(stack: Stack) -> None:
    answer = http("GET", stack.api + "/v1/nothing-here")
    assert answer.status == 404
