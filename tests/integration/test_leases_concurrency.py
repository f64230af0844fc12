"""Leases and the sweeper over real HTTP on DynamoDB Local: concurrent lease requests never take
``available`` below zero, and two sweepers at once settle each lease and lot exactly once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Response, Stack

pytestmark = pytest.mark.integration
CLIENTS = 32
COST_PER_HOUR = 10  # feature "build" in infra/catalog.json


def balance(stack: Stack, owner: str) -> dict:
    answer = stack.call("GET", "/v1/balance", key=owner)
    assert answer.status == 200, answer.body
    return answer.body


def ledger(stack: Stack, owner: str) -> list[dict]:
    entries, cursor = [], None
    while True:
        page = stack.call("GET", "/v1/ledger?limit=200" + (f"&cursor={cursor}" if cursor else ""), key=owner)
        assert page.status == 200, page.body
        entries += page.body["entries"]
        cursor = page.body["next_cursor"]
        if cursor is None:
            return entries


def open_lease(stack: Stack, key: str, duration_s: int = 600) -> Response:
    return stack.call(
        "POST", "/v1/leases", {"feature": "build", "duration_s": duration_s}, key=key, Idempotency_Key=uuid.uuid4().hex
    )


def assert_consistent(stack: Stack, owner: str) -> dict:
    pool = balance(stack, owner)
    assert pool["available"] == pool["balance"] - pool["reserved"]
    assert sum(entry["amount"] for entry in ledger(stack, owner)) == pool["balance"]
    return pool


def test_concurrent_lease_requests_never_take_available_below_zero(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 105)  # covers 10 one-hour leases of "build", not 32
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda _: open_lease(stack, owner), range(CLIENTS)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(402) == CLIENTS - 10, statuses
    assert {a.body["error"]["code"] for a in answers if a.status == 402} == {"INSUFFICIENT_TOKENS"}
    pool_now = assert_consistent(stack, owner)
    assert (pool_now["balance"], pool_now["reserved"], pool_now["available"]) == (105, 100, 5)
    # checking them all in at once charges one hour each and releases everything
    leases = [a.body["lease"]["id"] for a in answers if a.status == 201]
    with ThreadPoolExecutor(CLIENTS) as pool:
        closed = list(pool.map(lambda lease: stack.call("DELETE", f"/v1/leases/{lease}", key=owner), leases * 2))
    assert {c.status for c in closed} == {200}
    pool_now = assert_consistent(stack, owner)
    assert (pool_now["balance"], pool_now["reserved"], pool_now["available"]) == (5, 0, 5)
    assert sum(1 for e in ledger(stack, owner) if e["kind"] == "lease_charge") == 10
    stack.audit(tenant_id)


def test_two_sweepers_at_once_settle_each_lease_and_lot_once(stack: Stack) -> None:
    tenants = [stack.signup() for _ in range(3)]
    leases_per_tenant = 20
    for tenant_id, owner in tenants:
        stack.grant(tenant_id, 1000)
        stack.grant(tenant_id, 50, "trial", "--valid-days", "1")
        with ThreadPoolExecutor(8) as pool:
            opened = list(pool.map(lambda _, key=owner: open_lease(stack, key), range(leases_per_tenant)))
        assert {answer.status for answer in opened} == {201}
    stack.advance(86400 + 60)  # every lease and every trial lot is past its end
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: stack.invoke("SweeperFunction"), range(2)))
    assert {run.status for run in runs} == {200}, [run.body for run in runs]
    assert sum(run.body["errors"] for run in runs) == 0
    assert sum(run.body["leases_expired"] for run in runs) >= leases_per_tenant * len(tenants)
    for _, owner in tenants:
        entries = ledger(stack, owner)
        charges = [e for e in entries if e["kind"] == "lease_charge"]
        expiries = [e for e in entries if e["kind"] == "lot_expiry"]
        assert len(charges) == leases_per_tenant
        assert {e["amount"] for e in charges} == {-COST_PER_HOUR}
        assert len(expiries) == 1
        pool_now = assert_consistent(stack, owner)
        # the trial lot burnt first (200 charged > 50), so nothing of it was left to expire
        assert expiries[0]["amount"] == 0
        assert (pool_now["balance"], pool_now["reserved"]) == (1050 - leases_per_tenant * COST_PER_HOUR, 0)
        assert all(lot["expires_at"] is None for lot in pool_now["lots"])
    again = stack.invoke("SweeperFunction")
    assert again.status == 200
    assert (again.body["leases_expired"], again.body["lots_expired"]) == (0, 0)
    for tenant_id, _ in tenants:
        stack.audit(tenant_id)


def test_lease_routes_over_http(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    _, other = stack.signup()
    stack.grant(tenant_id, 100)
    opened = open_lease(stack, owner, duration_s=300)
    assert opened.status == 201, opened.body
    lease = opened.body["lease"]
    assert (lease["status"], lease["reserved"], lease["heartbeat_interval_s"]) == ("open", COST_PER_HOUR, 100)
    beat = stack.call("POST", f"/v1/leases/{lease['id']}/heartbeat", {"extend_s": 600}, key=owner)
    assert beat.status == 200, beat.body
    assert beat.body["lease"]["expires_at"] > lease["expires_at"]
    assert stack.call("POST", f"/v1/leases/{lease['id']}/heartbeat", key=other).status == 404
    bad = stack.call("POST", f"/v1/leases/{lease['id']}/heartbeat", {"extend_s": "soon"}, key=owner)
    assert (bad.status, bad.body["error"]["field"]) == (422, "extend_s")
    missing_key = stack.call("POST", "/v1/leases", {"feature": "build", "duration_s": 60}, key=owner)
    assert missing_key.status == 422
    stack.advance(601)
    late = stack.call("POST", f"/v1/leases/{lease['id']}/heartbeat", key=owner)
    assert (late.status, late.body["error"]["code"]) == (409, "LEASE_EXPIRED")
    closed = stack.call("DELETE", f"/v1/leases/{lease['id']}", key=owner)
    assert (closed.status, closed.body["lease"]["status"], closed.body["lease"]["charged"]) == (
        200,
        "expired",
        COST_PER_HOUR,
    )
    assert assert_consistent(stack, owner)["balance"] == 100 - COST_PER_HOUR
