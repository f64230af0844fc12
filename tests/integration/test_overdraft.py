"""Overdraft over real HTTP (SPEC.md, "Budgets, top-ups and refills"): consumption may take ``available``
down to −overdraft and never further, under concurrency; the next purchase pays it back first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Stack
from tests.integration.test_pool import consume
from tests.integration.test_purchases import buy, pay

pytestmark = pytest.mark.integration


def test_overdraft_down_to_its_limit_then_paid_back_by_a_purchase(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 10)
    done = stack.operator("--json", "overdraft", "set", "--tenant", tenant_id, "--tokens", "5")
    assert done.returncode == 0, done.stderr
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: consume(stack, member, 1), range(40)))
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 15, statuses  # 10 tokens and 5 of overdraft, never one more
    assert {body["error"]["code"] for status, body in results if status == 402} == {"INSUFFICIENT_TOKENS"}
    shown = stack.call("GET", "/v1/balance", key=owner).body
    assert (shown["balance"], shown["available"], shown["overdraft"]) == (-5, -5, 5)
    assert [(lot["source"], lot["remaining"]) for lot in shown["lots"]] == [("grant", 0)]

    record = buy(stack, owner)["purchase"]  # the starter pack: 1,000 tokens
    pay(stack, record["stripe_session_id"])
    shown = stack.call("GET", "/v1/balance", key=owner).body
    assert (shown["balance"], shown["available"]) == (995, 995)
    # the 5 owed came out of the purchase first: what the lots hold (burned in their order) is what is left
    assert sorted(lot["source"] for lot in shown["lots"]) == ["grant", "purchase"]
    assert sum(lot["remaining"] for lot in shown["lots"]) == 995
    assert consume(stack, member, 995)[0] == 200 and consume(stack, member, 6)[0] == 402  # 5 of overdraft again
    stack.audit(tenant_id)


def test_overdraft_command_refuses_bad_input(stack: Stack) -> None:
    missing = stack.operator("overdraft", "set", "--tenant", "tn_0000000000000000", "--tokens", "5")
    assert missing.returncode != 0 and "NOT_FOUND" in missing.stderr
    negative = stack.operator("overdraft", "set", "--tenant", "tn_0000000000000000", "--tokens", "-5")
    assert negative.returncode == 2
