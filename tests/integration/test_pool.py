"""The token pool over real HTTP on DynamoDB Local: no overspend under concurrency, exactly-once retries,
the ledger explaining the balance, the operator tool."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration
CLIENTS = 32


def balance(stack: Stack, owner: str) -> dict:
    answer = stack.call("GET", "/v1/balance", key=owner)
    assert answer.status == 200
    return answer.body


def ledger(stack: Stack, owner: str) -> list[dict]:
    entries, cursor = [], None
    while True:
        path = "/v1/ledger?limit=50" + (f"&cursor={cursor}" if cursor else "")
        page = stack.call("GET", path, key=owner)
        assert page.status == 200, page.body
        entries += page.body["entries"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return entries


def consume(stack: Stack, key: str, quantity: int, idempotency_key: str | None = None) -> tuple[int, dict]:
    """One consume, sent again after a 5xx (a loaded machine's timeout) with the same key, as the SDK does:
    the server answers a repeat from what it stored, so the outcome is the first commit's."""
    sent, body = idempotency_key or uuid.uuid4().hex, {"feature": "build", "quantity": quantity}
    for attempt in range(8):
        answer = stack.call("POST", "/v1/consume", body, key=key, Idempotency_Key=sent)
        if answer.status < 500:
            break
        time.sleep(min(2.0, 0.2 * 2**attempt))  # backoff between attempts, not a wait for anything
    return answer.status, answer.body


def test_operator_grant_shows_in_balance_and_ledger(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 120, "welcome credit")
    assert balance(stack, owner)["balance"] == 120
    [entry] = ledger(stack, owner)
    assert (entry["kind"], entry["amount"], entry["reason"], entry["balance_after"]) == (
        "grant",
        120,
        "welcome credit",
        120,
    )
    assert entry["actor"].startswith("operator:")
    done = stack.operator("grant", "--tenant", tenant_id, "--tokens", "-20", "--reason", "correction", "--yes")
    assert done.returncode == 0, done.stderr
    assert balance(stack, owner)["balance"] == 100
    assert sum(e["amount"] for e in ledger(stack, owner)) == 100


def test_operator_tool_errors_are_clear(stack: Stack) -> None:
    missing = stack.operator("grant", "--tenant", "tn_0000000000000000", "--tokens", "5", "--reason", "x")
    assert missing.returncode != 0 and "NOT_FOUND" in missing.stderr
    no_reason = stack.operator("grant", "--tenant", "tn_0000000000000000", "--tokens", "5")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr


def test_concurrent_consumers_never_overspend(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 41)  # 64 requests of 2 tokens ask for 128
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: consume(stack, member, 2), range(64)))
    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 402}, statuses
    assert statuses.count(200) == 20
    assert all(body["error"]["code"] == "INSUFFICIENT_TOKENS" for status, body in results if status == 402)
    final = balance(stack, owner)
    assert final["balance"] == 1 and final["available"] == 1
    entries = ledger(stack, owner)
    assert sum(e["amount"] for e in entries) == final["balance"]
    assert len([e for e in entries if e["kind"] == "consumption"]) == 20
    stack.audit(tenant_id)


def test_concurrent_consumers_respect_the_project_budget(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 500)
    project = stack.call("POST", "/v1/projects", {"name": "ci", "budget": 31}, key=owner).body["project"]
    created = stack.call(
        "POST", "/v1/keys", {"name": "ci", "regions": ["us-east-1"], "project_id": project["id"]}, key=owner
    )
    assert created.status == 201, created.body
    key = created.body["secret"]
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: consume(stack, key, 2), range(48)))
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 15, statuses
    assert {body["error"]["code"] for status, body in results if status == 402} == {"PROJECT_BUDGET_EXHAUSTED"}
    assert balance(stack, owner)["balance"] == 470
    [stored] = stack.call("GET", "/v1/projects", key=owner).body["projects"]
    assert (stored["spent"], stored["budget_left"]) == (30, 1)
    assert sum(e["amount"] for e in ledger(stack, owner)) == 470
    stack.audit(tenant_id)


def test_one_key_replayed_from_many_threads_charges_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 100)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: consume(stack, member, 3, "the-same-key"), range(16)))
    assert {status for status, _ in results} == {200}
    assert len({body["entry_id"] for _, body in results}) == 1
    assert all(body == results[0][1] for _, body in results)
    assert balance(stack, owner)["balance"] == 97
    stack.audit(tenant_id)
    conflict = stack.call(
        "POST", "/v1/consume", {"feature": "build", "quantity": 4}, key=member, Idempotency_Key="the-same-key"
    )
    assert conflict.status == 409 and conflict.body["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_suspended_tenant_is_refused_until_resumed(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 10)
    assert stack.operator("suspend", "--tenant", tenant_id).returncode == 0
    status, body = consume(stack, member, 1)
    assert status == 403 and body["error"]["code"] == "TENANT_SUSPENDED"
    assert stack.operator("resume", "--tenant", tenant_id).returncode == 0
    assert consume(stack, member, 1)[0] == 200
    listing = stack.operator("tenants")
    assert tenant_id in listing.stdout


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        ({"feature": "build"}, {}, 422, "Idempotency-Key"),
        ({"quantity": 1}, {"Idempotency_Key": "k"}, 422, "feature"),
        ({"feature": "build", "quantity": 0}, {"Idempotency_Key": "k"}, 422, "quantity"),
        ({"feature": "build", "quantity": "2"}, {"Idempotency_Key": "k"}, 422, "quantity"),
        ({"feature": "nope"}, {"Idempotency_Key": "k"}, 422, "feature"),
    ],
)
def test_bad_consume_input_changes_nothing(stack: Stack, body: dict, headers: dict, status: int, field: str) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 10)
    answer = stack.call("POST", "/v1/consume", body, key=member, **headers)
    assert answer.status == status and answer.body["error"]["field"] == field
    assert balance(stack, owner)["balance"] == 10


def test_roles_that_may_not_consume_are_refused(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    auditor = stack.api_key(owner, "auditor")
    stack.grant(tenant_id, 10)
    assert consume(stack, auditor, 1)[0] == 403
    assert consume(stack, "tg_bogus", 1)[0] == 401
