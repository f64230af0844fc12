"""Refills with rollover over real HTTP (SPEC.md, "Budgets, top-ups and refills"; invariant 14): the first lot
when the plan is set, then one at each UTC month start with the rollover of the previous refill lot's
unused part (capped, burnt first), exactly once per period whether the period is read or swept, twice each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.conftest import Stack, http
from tests.integration.test_pool import consume, ledger

pytestmark = pytest.mark.integration


def to_next_month(stack: Stack) -> None:
    """Move the application clock just past the next UTC month start."""
    now = int(http("GET", stack.api + "/_local/clock").body["now"])
    at = datetime.fromtimestamp(now, UTC)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    stack.advance(int(datetime(year, month, 1, tzinfo=UTC).timestamp()) - now + 60)


def lots(stack: Stack, owner: str) -> list[tuple[str, int, int]]:
    shown = stack.call("GET", "/v1/balance", key=owner).body
    return sorted((lot["source"], lot["tokens"], lot["remaining"]) for lot in shown["lots"])


def kinds(stack: Stack, owner: str) -> list[str]:
    return sorted(entry["kind"] for entry in ledger(stack, owner) if entry["kind"] in ("refill", "rollover"))


def test_two_month_boundaries_of_refills_with_rollover_read_and_swept_twice(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    member = stack.api_key(owner, "member")
    plan = ("--tokens", "100", "--every", "month", "--rollover-percent", "50", "--rollover-cap", "30")
    done = stack.operator("--json", "refills", "set", "--tenant", tenant_id, *plan)
    assert done.returncode == 0, done.stderr
    assert lots(stack, owner) == [("refill", 100, 100)]  # the first lot, when set
    again = stack.operator("--json", "refills", "set", "--tenant", tenant_id, *plan)
    assert again.returncode == 0 and lots(stack, owner) == [("refill", 100, 100)]  # this period was given
    shown = stack.operator("--json", "refills", "show", "--tenant", tenant_id)
    assert shown.returncode == 0 and '"rollover_cap": 30' in shown.stdout
    assert consume(stack, member, 40)[0] == 200  # 60 unused: 50% of it is 30, the cap

    to_next_month(stack)
    for _ in range(2):  # read twice: the refill lot past its end is expired, then the next period given
        assert lots(stack, owner) == [("refill", 100, 100), ("rollover", 30, 30)]
    for _ in range(2):  # swept twice: nothing more
        assert stack.invoke("SweeperFunction").status == 200
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == 130
    assert kinds(stack, owner) == ["refill", "refill", "rollover"]
    assert consume(stack, member, 10)[0] == 200  # the rollover burns first
    assert lots(stack, owner) == [("refill", 100, 100), ("rollover", 30, 20)]

    to_next_month(stack)
    for _ in range(2):  # swept twice first this time
        assert stack.invoke("SweeperFunction").status == 200
    for _ in range(2):
        assert lots(stack, owner) == [("refill", 100, 100), ("rollover", 30, 30)]  # 100 unused: capped at 30
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == 130
    assert kinds(stack, owner) == ["refill", "refill", "refill", "rollover", "rollover"]
    stack.audit(tenant_id)
