"""Allowances over real HTTP on DynamoDB Local: a block held and settled by cumulative reports, busy
spenders paying one pool write per block, and an allowance nobody settles charged in full at its end."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Response, Stack

pytestmark = pytest.mark.integration
BLOCK = 100


def retried(send: Callable[[], Response], attempts: int = 6) -> Response:
    """As the SDK does: a 5xx is sent again (same Idempotency-Key; settlements are cumulative)."""
    answer = send()
    for attempt in range(attempts):
        if answer.status < 500:
            break
        time.sleep(0.2 * 2**attempt)
        answer = send()
    return answer


def open_allowance(stack: Stack, key: str, tokens: int = BLOCK, ttl_s: int = 300) -> Response:
    body, idempotency_key = {"feature": "build", "tokens": tokens, "ttl_s": ttl_s}, str(uuid.uuid4())
    return retried(lambda: stack.call("POST", "/v1/allowances", body, key=key, Idempotency_Key=idempotency_key))


def settle(stack: Stack, key: str, allowance_id: str, used: int, **flags: bool) -> Response:
    path, body = f"/v1/allowances/{allowance_id}/settle", {"used": used, **flags}
    return retried(lambda: stack.call("POST", path, body, key=key))


def balance(stack: Stack, owner: str) -> dict[str, Any]:
    answer = stack.call("GET", "/v1/balance", key=owner)
    assert answer.status == 200, answer.body
    return dict(answer.body)


def test_an_allowance_is_settled_by_cumulative_reports(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 1000)
    opened = open_allowance(stack, member)
    assert opened.status == 201, opened.body
    allowance = opened.body["allowance"]
    assert (allowance["held"], allowance["cost_per_use"], allowance["status"]) == (BLOCK, 1, "open")
    assert balance(stack, owner)["available"] == 1000 - BLOCK
    renewed = settle(stack, member, allowance["id"], 100, renew=True)
    assert (renewed.status, renewed.body["allowance"]["held"], renewed.body["allowance"]["charged"]) == (200, 100, 100)
    late = settle(stack, member, allowance["id"], 60)  # an older report: nothing changes
    assert late.body["allowance"]["charged"] == 100
    done = settle(stack, member, allowance["id"], 130, final=True)
    assert (done.body["allowance"]["status"], done.body["allowance"]["charged"]) == ("settled", 130)
    now = balance(stack, owner)
    assert (now["balance"], now["reserved"], now["available"]) == (870, 0, 870)
    too_many = settle(stack, member, allowance["id"], 131)
    assert (too_many.status, too_many.body["error"]["code"]) == (409, "ALLOWANCE_ENDED")
    bad = stack.call("POST", f"/v1/allowances/{allowance['id']}/settle", {"used": -1}, key=member)
    assert (bad.status, bad.body["error"]["field"]) == (422, "used")
    stack.audit(tenant_id)


def test_busy_spenders_pay_one_pool_write_per_block(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 20_000)
    threads, uses_each = 8, 1250  # 10,000 uses in all

    def spend(_: int) -> int:
        writes = 1
        opened = open_allowance(stack, member)
        assert opened.status == 201, opened.body
        allowance_id, used, held = opened.body["allowance"]["id"], 0, BLOCK
        for _ in range(uses_each):
            if used == held:  # the block is spent: report it and take the next in one request
                answer = settle(stack, member, allowance_id, used, renew=True)
                assert answer.status == 200, answer.body
                held = used + answer.body["allowance"]["held"]
                writes += 1
            used += 1
        done = settle(stack, member, allowance_id, used, final=True)
        assert done.status == 200, done.body
        return writes + 1

    with ThreadPoolExecutor(threads) as pool:
        writes = sum(pool.map(spend, range(threads)))
    assert balance(stack, owner)["balance"] == 20_000 - threads * uses_each
    assert writes <= 120, writes  # 10,000 uses: at least 83 uses per pool write
    stack.audit(tenant_id)


def test_an_allowance_nobody_settles_is_charged_in_full_at_its_end(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 500)
    opened = open_allowance(stack, owner, tokens=200, ttl_s=60)
    assert opened.status == 201, opened.body
    stack.advance(61)  # the process holding it died: nobody settles
    swept = stack.invoke("SweeperFunction")
    # at least this one: the sweeper sweeps every tenant, and earlier tests on this stack may have left theirs
    assert swept.status == 200 and swept.body["allowances_expired"] >= 1, swept.body
    now = balance(stack, owner)
    assert (now["balance"], now["reserved"]) == (300, 0)
    entries = stack.call("GET", "/v1/ledger", key=owner).body["entries"]
    charged = [(e["amount"], e["allowance_id"]) for e in entries if e["kind"] == "allowance_charge"]
    assert charged == [(-200, opened.body["allowance"]["id"])]
    stack.audit(tenant_id)


def test_concurrent_reports_on_one_allowance_charge_each_use_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 1000)
    opened = open_allowance(stack, owner)
    assert opened.status == 201, opened.body
    allowance_id = opened.body["allowance"]["id"]

    def report(used: int) -> int:
        for _ in range(10):  # as the SDK does: a 503 (the allowance kept changing) is retried
            answer = settle(stack, owner, allowance_id, used)
            if answer.status != 503:
                return answer.status
        return 503

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(report, range(1, 17)))
    assert set(statuses) == {200}, statuses
    done = settle(stack, owner, allowance_id, 16, final=True)
    assert (done.status, done.body["allowance"]["charged"]) == (200, 16)
    assert balance(stack, owner)["balance"] == 1000 - 16
    stack.audit(tenant_id)
