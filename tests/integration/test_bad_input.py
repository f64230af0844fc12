"""Bad input over real HTTP (SPEC.md, "Bad input, concretely"; invariant 8): forged page cursors, path ids of
another shape, grants beyond the bounds, and methods or paths no route serves. Each answers 4xx in the
error envelope and changes nothing."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from tests.integration.conftest import Stack, http

pytestmark = pytest.mark.integration

ID_ROUTES = [
    ("DELETE", "/v1/api-keys/{}", None, "api"),
    ("GET", "/v1/purchases/{}", None, "api"),
    ("PATCH", "/v1/projects/{}", {"budget": 5}, "api"),
    ("DELETE", "/v1/keys/{}", None, "api"),
    ("POST", "/v1/keys/{}/rotate", None, "api"),
    ("POST", "/v1/leases/{}/heartbeat", {}, "license"),
    ("DELETE", "/v1/leases/{}", None, "license"),
    ("POST", "/v1/allowances/{}/settle", {"used": 1}, "license"),
]


def old_style(document: dict) -> str:
    """A cursor as the API used to issue them (base64 JSON): what an attacker can write by hand."""
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def license_key(stack: Stack, owner: str) -> str:
    answer = stack.call("POST", "/v1/keys", {"name": "ci", "regions": ["us-east-1"]}, key=owner)
    assert answer.status == 201, answer.body
    return str(answer.body["secret"])


@pytest.mark.parametrize(("method", "template", "body", "credential"), ID_ROUTES)
def test_path_ids_of_another_shape_are_404_and_change_nothing(
    stack: Stack, method: str, template: str, body: object, credential: str
) -> None:
    _, owner = stack.signup()
    key = owner if credential == "api" else license_key(stack, owner)
    before = stack.items()
    for bad in ("x" * 2000, "pj_" + "0" * 16 + "%00", "ak_0000000000000000%20", "..", "%F0%9F%98%80"):
        answer = stack.call(method, template.format(bad), body, key=key, Idempotency_Key="k-1")
        assert answer.status == 404, (bad, answer.body)
        assert answer.body["error"]["code"] == "NOT_FOUND"
    assert stack.items() == before


def test_forged_ledger_cursors_are_422_naming_cursor(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    for n in range(3):
        stack.grant(tenant_id, 10 + n)
    first = stack.call("GET", "/v1/ledger?limit=1", key=owner)
    assert first.status == 200 and first.body["next_cursor"]
    issued = first.body["next_cursor"]
    honest = stack.call("GET", f"/v1/ledger?limit=1&cursor={urllib.parse.quote(issued)}", key=owner)
    assert honest.status == 200 and honest.body["entries"][0]["balance_after"] == 21
    forged = [
        old_style({"sk": ""}),
        old_style({"sk": "", "b": 0}),
        "eyJiIjogMWU5OTl9",  # {"b": 1e999}
        old_style({"sk": "999999999999#le_x", "b": 10**9}),  # a running balance of the caller's choosing
        issued[:-1] + ("A" if issued[-1] != "A" else "B"),  # one character changed
        "x" * 5000,
    ]
    _, other_owner = stack.signup("Other")
    for cursor in forged:
        answer = stack.call("GET", f"/v1/ledger?cursor={urllib.parse.quote(cursor)}", key=owner)
        assert answer.status == 422, (cursor, answer.body)
        assert answer.body["error"]["code"] == "INVALID_FIELD" and answer.body["error"]["field"] == "cursor"
    stolen = stack.call("GET", f"/v1/ledger?cursor={urllib.parse.quote(issued)}", key=other_owner)
    assert stolen.status == 422 and stolen.body["error"]["field"] == "cursor"  # bound to the tenant
    elsewhere = stack.call("GET", f"/v1/purchases?cursor={urllib.parse.quote(issued)}", key=owner)
    assert elsewhere.status == 422 and elsewhere.body["error"]["field"] == "cursor"  # bound to the listing


def test_forged_purchase_cursors_are_422_naming_cursor(stack: Stack) -> None:
    _, owner = stack.signup()
    for cursor in (old_style({"sk": ""}), old_style({"sk": "PURCHASE#pu_0000000000000000"}), "%00", "a.b"):
        answer = stack.call("GET", f"/v1/purchases?cursor={urllib.parse.quote(cursor)}", key=owner)
        assert answer.status == 422, (cursor, answer.body)
        assert answer.body["error"]["field"] == "cursor"


def test_grants_beyond_the_bounds_are_refused_and_the_balance_still_answers(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    for extra in (["--valid-days", "3000000"], ["--valid-days", "3651"], ["--tokens", str(10**15 + 1)]):
        args = ["grant", "--tenant", tenant_id, "--tokens", "5", "--reason", "too much", *extra]
        done = stack.operator(*args)
        assert done.returncode != 0, (extra, done.stdout)
    stack.grant(tenant_id, 5, "fine", "--valid-days", "3650")
    balance = stack.call("GET", "/v1/balance", key=owner)
    assert balance.status == 200 and balance.body["balance"] == 5


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/v1/tenant", "GET"),
        ("PUT", "/v1/consume", "POST"),
        ("GET", "/v1/validate", "POST"),
        ("POST", "/v1/ledger", "GET"),
        ("GET", "/v1/keys/lk_0000000000000000", "DELETE"),
        ("PATCH", "/v1/api-keys", "GET, POST"),
        ("TRACE", "/v1/balance", "GET"),
        ("QUERY", "/v1/balance", "GET"),
    ],
)
def test_a_known_path_with_another_method_is_405_in_the_envelope(
    stack: Stack, method: str, path: str, allow: str
) -> None:
    answer = http(method, stack.api + path, {} if method in ("POST", "PUT", "PATCH") else None)
    assert answer.status == 405, answer.body
    assert answer.body["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert answer.headers.get("Allow") == allow


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nothing-here"), ("POST", "/"), ("DELETE", "/v2/tenant")])
def test_an_unknown_path_is_404_in_the_envelope(stack: Stack, method: str, path: str) -> None:
    answer = http(method, stack.api + path)
    assert answer.status == 404
    assert answer.body["error"]["code"] == "NOT_FOUND" and answer.body["error"]["request_id"]
