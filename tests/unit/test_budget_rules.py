"""The pure rules of budgets, refills and overdraft: the scope grammar, a level as shown, the UTC month,
the rollover, the burn order that spends a rollover first, and the audit of budget levels and refills."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.audit.rules import StoredBudget, StoredPool, TenantBooks, audit_tenant
from tollgate.core.budgets import Levels, levels_for, month_key, month_start, next_month_start
from tollgate.core.errors import InvalidField, NotFound
from tollgate.core.models import EntryKind, LedgerEntry, Lot
from tollgate.pool.rules import allocate
from tollgate.pool.rules_budgets import LevelKind, budget_of, check_limit, ordered, parse_scope
from tollgate.pool.rules_refills import rollover

PJ, LK = "pj_0000000000000001", "lk_0000000000000001"


def epoch(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("tenant", LevelKind.TENANT),
        (f"project:{PJ}", LevelKind.PROJECT),
        (f"environment:{PJ}:production", LevelKind.ENVIRONMENT),
        (f"environment:{PJ}:eu-1", LevelKind.ENVIRONMENT),
        (f"key:{LK}", LevelKind.KEY),
    ],
)
def test_scopes_parse_and_print_as_written(text: str, kind: LevelKind) -> None:
    scope = parse_scope(text)
    assert scope.kind is kind and str(scope) == text


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("planet", InvalidField),
        ("tenant:x", InvalidField),
        (f"environment:{PJ}:Production", InvalidField),
        (f"environment:{PJ}:-x", InvalidField),
        (f"environment:{PJ}:" + "a" * 33, InvalidField),
        ("project:nope", NotFound),
        ("key:pj_0000000000000001", NotFound),
        ("environment:nope:production", NotFound),
    ],
)
def test_bad_scopes_are_refused(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_scope(text)


def test_limits_and_periods() -> None:
    assert check_limit(0, "none") is False and check_limit(10**15, "month") is True
    for limit, period in ((-1, "none"), (10**15 + 1, "none"), (True, "none"), (5, "week")):
        with pytest.raises(InvalidField):
            check_limit(limit, period)


def test_a_level_shows_used_held_and_left_adding_up_to_its_limit() -> None:
    now = epoch(2026, 12, 31, 23, 59)
    shown = budget_of("tenant", 100, True, spent=30, committed=45, now=now)
    assert (shown.used, shown.held, shown.left) == (30, 15, 55)
    assert shown.used + shown.held + shown.left == shown.limit
    assert shown.resets_at == epoch(2027, 1, 1) and shown.period == "month"
    assert budget_of("tenant", 5, False, 0, 0, now).resets_at is None
    scopes = ["key:lk_1", f"environment:{PJ}:a", "tenant", f"project:{PJ}"]
    assert [b.scope for b in ordered([budget_of(s, 1, False, 0, 0, now) for s in scopes])] == [
        "tenant",
        f"project:{PJ}",
        f"environment:{PJ}:a",
        "key:lk_1",
    ]


def test_the_utc_month() -> None:
    assert month_start(epoch(2026, 12, 7, 8, 30)) == epoch(2026, 12, 1)
    assert next_month_start(epoch(2026, 12, 7)) == epoch(2027, 1, 1)
    assert month_start(epoch(2027, 1, 1)) == epoch(2027, 1, 1)  # a period starts at its first second
    assert month_key(epoch(2027, 2, 28, 23, 59, 59)) == "2027-02"


def test_levels_of_a_spend() -> None:
    levels = levels_for(PJ, "production", f"license_key:{LK}")
    assert (levels.environment_scope, levels.key_scope) == (f"environment:{PJ}:production", f"key:{LK}")
    assert levels_for(PJ, "production", "api_key:ak_1").key_scope is None  # API keys have no key level
    assert Levels(None, "production").environment_scope is None  # an environment counts within a project
    assert Levels(PJ, "Prod_1").environment_scope is None  # a name no budget can be set for


def test_rollover_is_a_capped_percentage_of_the_unused_part() -> None:
    assert rollover(60, 50, 30) == 30
    assert rollover(60, 50, 100) == 30
    assert rollover(7, 50, 100) == 3  # rounded down
    assert rollover(0, 100, 100) == 0 and rollover(60, 0, 100) == 0


def test_a_rollover_burns_before_the_refill_lot_that_ends_with_it() -> None:
    end = epoch(2027, 1, 1)
    refill = Lot("lot_a", "tn", 100, 100, 10, end, kind="refill")
    carried = Lot("lot_b", "tn", 30, 30, 10, end, kind="rollover")
    views = {view.lot.kind: view.left for view in allocate([refill, carried], 120)}
    assert views == {"refill": 100, "rollover": 20}
    assert carried.source == "rollover" and Lot("lot_c", "tn", 1, 1, 0, purchase_id="pu").source == "purchase"


def _books(budgets: list[StoredBudget], ledger: list[LedgerEntry], lots: list[Lot] | None = None) -> TenantBooks:
    balance = sum(entry.amount for entry in ledger)
    return TenantBooks("tn", StoredPool(balance, 0, balance, None), ledger, lots or [], [], budgets)


def _entry(entry_id: str, kind: EntryKind, amount: int, **extra: object) -> LedgerEntry:
    return LedgerEntry(entry_id, "tn", kind, amount, epoch(2026, 12, 2), "x", "r", **extra)  # type: ignore[arg-type]


def test_the_audit_checks_every_level() -> None:
    spend = _entry("le_2", EntryKind.CONSUMPTION, -4, key_id=LK, project_id=PJ)
    grant = _entry("le_1", EntryKind.GRANT, 10)
    right = [
        StoredBudget(None, 10, 4, 4, 6, scope="tenant"),
        StoredBudget(PJ, None, 4, 4, -4),
        StoredBudget(None, 5, 4, 4, 1, scope=f"key:{LK}"),
    ]
    assert audit_tenant(_books(right, [grant, spend])) == []
    wrong = [StoredBudget(None, 5, 4, 4, 2, scope=f"key:{LK}"), StoredBudget(None, 9, 3, 3, 6, scope="tenant")]
    found = audit_tenant(_books(wrong, [grant, spend]))
    assert any("limit − used − held" in text for text in found)
    assert any("tenant has spent 3" in text for text in found)


def test_the_audit_finds_a_period_refilled_twice() -> None:
    lots = [Lot("lot_1", "tn", 5, 5, 0, kind="refill"), Lot("lot_2", "tn", 5, 5, 0, kind="refill")]
    ledger = [_entry("le_1", EntryKind.REFILL, 5, lot_id="lot_1"), _entry("le_2", EntryKind.REFILL, 5, lot_id="lot_2")]
    found = audit_tenant(_books([], ledger, lots))
    assert any("arrived 2 times" in text for text in found)
