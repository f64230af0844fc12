"""The API contract over real HTTP: the served document, the SDK routes' real answers against their
declaration, and the bad input of issue 12 on the portal and signup routes (refused, nothing stored)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.integration.conftest import Stack, http
from tollgate.edge.contract import sdk
from tollgate.edge.contract.published import PUBLISHED


def refused(answer: Any, status: int, field: str | None = None) -> None:
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error"} and answer.body["error"]["request_id"]
    if field is not None:
        assert answer.body["error"]["field"] == field, answer.body


def stored(stack: Stack) -> int:
    return len(stack.items())


def at(seconds_from_now: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------------------ document


def test_openapi_document_is_public_cacheable_and_valid(stack: Stack) -> None:
    answer = http("GET", stack.api + "/v1/openapi.json")
    assert answer.status == 200
    assert answer.headers["Cache-Control"].startswith("public, max-age=")
    assert answer.body == json.loads(PUBLISHED.read_text())
    validate(answer.body)


def test_sdk_answers_conform_to_their_declaration(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Contract SDK")
    stack.grant(tenant_id, 10_000)
    made = stack.call("POST", "/v1/keys", {"name": "sdk", "regions": ["*"]}, key=owner)
    assert made.status == 201, made.body
    license_key = made.body["secret"]

    def conforms(path: str, method: str, status: int, answer: Any) -> None:
        assert answer.status == status, answer.body
        declared = sdk.PATHS[path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.validate(answer.body, declared)

    conforms("/v1/.well-known/jwks.json", "get", 200, stack.call("GET", "/v1/.well-known/jwks.json"))
    conforms("/v1/validate", "post", 200, stack.call("POST", "/v1/validate", {"feature": "build"}, key=license_key))
    full = stack.call("POST", "/v1/consume", {"feature": "build"}, key=license_key, Idempotency_Key="c-1")
    conforms("/v1/consume", "post", 200, full)
    minimal = stack.call(
        "POST", "/v1/consume", {"feature": "build"}, key=license_key, Idempotency_Key="c-2", Prefer="return=minimal"
    )
    conforms("/v1/consume", "post", 200, minimal)
    opened = stack.call(
        "POST", "/v1/leases", {"feature": "build", "duration_s": 600}, key=license_key, Idempotency_Key="l-1"
    )
    conforms("/v1/leases", "post", 201, opened)
    lease = opened.body["lease"]["id"]
    beat = stack.call("POST", f"/v1/leases/{lease}/heartbeat", {}, key=license_key)
    conforms("/v1/leases/{lease_id}/heartbeat", "post", 200, beat)
    conforms("/v1/leases/{lease_id}", "delete", 200, stack.call("DELETE", f"/v1/leases/{lease}", key=license_key))
    held = stack.call(
        "POST", "/v1/allowances", {"feature": "build", "tokens": 10}, key=license_key, Idempotency_Key="a-1"
    )
    conforms("/v1/allowances", "post", 201, held)
    settled = stack.call(
        "POST", f"/v1/allowances/{held.body['allowance']['id']}/settle", {"used": 1, "final": True}, key=license_key
    )
    conforms("/v1/allowances/{allowance_id}/settle", "post", 200, settled)


# ------------------------------------------------------------------------------------------ signup


def test_signup_idempotency_key_must_be_at_least_32_characters(stack: Stack) -> None:
    body = {"name": "Short Key Ltd", "email": "ops@short.example"}
    before = stored(stack)
    for short in ("signup-acme-1", "x", "a" * 31):
        refused(stack.call("POST", "/v1/tenants", body, Idempotency_Key=short), 422, "Idempotency-Key")
    assert stored(stack) == before
    key = str(uuid.uuid4())
    first = stack.call("POST", "/v1/tenants", body, Idempotency_Key=key)
    again = stack.call("POST", "/v1/tenants", body, Idempotency_Key=key)
    assert first.status == again.status == 201
    assert again.body["api_key"]["secret"] == first.body["api_key"]["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Acme\x00", "email": "ops@acme.example"}, "name"),
        ({"name": "Acme\x1b[31m", "email": "ops@acme.example"}, "name"),
        ({"name": "Acme", "email": "ops\r\n@acme.example"}, "email"),
        ({"name": "Acme", "email": "ops@acme\x85.example"}, "email"),
    ],
)
def test_control_characters_in_signup_are_refused(stack: Stack, body: dict[str, str], field: str) -> None:
    before = stored(stack)
    refused(stack.call("POST", "/v1/tenants", body), 422, field)
    assert stored(stack) == before


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ('{"name": "A", "name": "B", "email": "a@b.co"}', "duplicate key"),
        ('{"name": "' + "\\ud800" + '", "email": "a@b.co"}', "lone surrogate"),
        ("[" * 5000 + "]" * 5000, "nested thousands deep"),
        ('{"name": "A", "email": "a@b.co", "x": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 32"),
    ],
)
def test_unreadable_bodies_are_400_on_signup_and_portal(stack: Stack, raw: str, why: str) -> None:
    _, owner = stack.signup("Bodies")
    before = stored(stack)
    headers = {"Content-Type": "application/json"}
    refused(http("POST", stack.api + "/v1/tenants", raw=raw.encode(), headers=headers), 400)
    portal = {**headers, "Authorization": f"Bearer {owner}"}
    refused(http("POST", stack.api + "/v1/projects", raw=raw.encode(), headers=portal), 400)
    assert stored(stack) == before, why


# ------------------------------------------------------------------------------------------ portal


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:59:59-23:59",  # year 9999 with a negative offset: once a 500 that still stored the key
        "9999-12-31T23:59:59Z",
        "1999-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00+14:00",
        "not a date",
        "2030-01-01T00:00:00",  # no offset
    ],
)
def test_license_key_expiry_out_of_range_is_422_and_stores_nothing(stack: Stack, expires_at: str) -> None:
    _, owner = stack.signup("Expiry")
    before = stored(stack)
    body = {"name": "ci", "regions": ["eu"], "expires_at": expires_at}
    refused(stack.call("POST", "/v1/keys", body, key=owner), 422, "expires_at")
    assert stored(stack) == before
    assert stack.call("GET", "/v1/keys", key=owner).status == 200


def test_license_key_expiry_is_at_most_ten_years_ahead(stack: Stack) -> None:
    _, owner = stack.signup("Ten years")
    eleven_years = 11 * 365 * 86_400
    refused(
        stack.call("POST", "/v1/keys", {"name": "a", "regions": ["eu"], "expires_at": at(eleven_years)}, key=owner), 422
    )
    made = stack.call(
        "POST", "/v1/keys", {"name": "b", "regions": ["eu"], "expires_at": at(9 * 365 * 86_400)}, key=owner
    )
    assert made.status == 201, made.body
    listed = stack.call("GET", "/v1/keys", key=owner)
    assert listed.status == 200 and [k["name"] for k in listed.body["keys"]] == ["b"]


@pytest.mark.parametrize("budget", [10**200, 10**38, 10**15 + 1, -1, 1.5, "100", True])
def test_project_budget_beyond_bounds_is_422(stack: Stack, budget: Any) -> None:
    _, owner = stack.signup("Budgets")
    before = stored(stack)
    refused(stack.call("POST", "/v1/projects", {"name": "p", "budget": budget}, key=owner), 422, "budget")
    assert stored(stack) == before
    made = stack.call("POST", "/v1/projects", {"name": "p", "budget": 10**15}, key=owner)
    assert made.status == 201 and made.body["project"]["budget"] == 10**15
    project = made.body["project"]["id"]
    refused(stack.call("PATCH", f"/v1/projects/{project}", {"budget": budget}, key=owner), 422, "budget")
    assert stack.call("GET", "/v1/projects", key=owner).body["projects"][0]["budget"] == 10**15


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/api-keys", {"name": "ci\x07", "role": "member"}, "name"),
        ("/v1/projects", {"name": "team\nred"}, "name"),
        ("/v1/keys", {"name": "ci\x9b", "regions": ["eu"]}, "name"),
        ("/v1/api-keys", {"name": "ci", "role": "member", "colour": "red"}, "colour"),
        ("/v1/keys", {"name": "ci", "regions": ["eu"], "features": ["a" * 65]}, "features.0"),
    ],
)
def test_portal_refuses_bad_fields_by_name(stack: Stack, path: str, body: dict[str, Any], field: str) -> None:
    _, owner = stack.signup("Fields")
    before = stored(stack)
    refused(stack.call("POST", path, body, key=owner), 422, field)
    assert stored(stack) == before


@pytest.mark.parametrize("limit", ["²", "٣", " 12", "+5", "1_0", "0", "201", "1e2"])
def test_page_limits_are_plain_ascii_digits_in_range(stack: Stack, limit: str) -> None:
    _, owner = stack.signup("Limits")
    from urllib.parse import quote

    refused(stack.call("GET", f"/v1/ledger?limit={quote(limit)}", key=owner), 422, "limit")
    assert stack.call("GET", "/v1/ledger?limit=200", key=owner).status == 200


def test_purchase_needs_an_idempotency_key(stack: Stack) -> None:
    _, owner = stack.signup("Buyer")
    body = {"pack_id": "starter", "quantity": 1}
    refused(stack.call("POST", "/v1/purchases", body, key=owner), 422, "Idempotency-Key")
    refused(stack.call("POST", "/v1/purchases", {**body, "quantity": 1001}, key=owner, Idempotency_Key="p-1"), 422)
