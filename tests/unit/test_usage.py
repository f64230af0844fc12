"""Usage rollups and reports: the pure math, the forecast, and the rollups on moto counting each ledger
entry exactly once, whatever the stream repeats, and rebuilt exactly from the ledger."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.unit.leasing import DAY, NOW, LeaseWorld
from tollgate.core.errors import InvalidField
from tollgate.core.models import EntryKind, LedgerEntry, Lot, Principal, Project
from tollgate.pool.rules import LotView, allocate
from tollgate.reports.rules import (
    Dimension,
    Granularity,
    UsageLine,
    csv_text,
    day_of,
    day_range,
    line_of,
    parse_group_by,
    report,
    rollups_of,
)
from tollgate.reports.rules_forecast import burn_rate, forecast, project_lots


def entry(
    n: int, kind: EntryKind = EntryKind.CONSUMPTION, amount: int = -3, at: int = NOW, **fields: Any
) -> LedgerEntry:
    base: dict[str, Any] = {"feature": "build", "quantity": 1, "actor": "license_key:lk_a"}
    base.update(fields)
    return LedgerEntry(id=f"le_{n:04d}", tenant_id="tn_x", kind=kind, amount=amount, created_at=at, **base)


# the pure part


def test_only_spending_entries_are_usage() -> None:
    assert line_of(entry(1)) == UsageLine(day_of(NOW), "build", None, "lk_a", 3, 1, 1)
    assert line_of(entry(2, EntryKind.LEASE_CHARGE, -20, quantity=2, key_id="lk_b")).key_id == "lk_b"
    assert line_of(entry(3, EntryKind.ALLOWANCE_CHARGE, -7, quantity=None)).quantity == 0
    for kind in (EntryKind.GRANT, EntryKind.PURCHASE, EntryKind.REFUND, EntryKind.LOT_EXPIRY, EntryKind.ADJUSTMENT):
        assert line_of(entry(4, kind, -5)) is None
    assert line_of(entry(5, amount=0)) is None
    assert line_of(entry(6, actor="system:lease-expiry")).key_id is None


def test_report_groups_days_and_months_and_totals_equal_the_entries() -> None:
    entries = [
        entry(1, at=NOW),
        entry(2, at=NOW, project_id="pj_1", actor="api_key:ak_1"),
        entry(3, at=NOW + DAY, amount=-10, quantity=2, feature="deploy"),
        entry(4, at=NOW + 40 * DAY, amount=-1),
        entry(5, EntryKind.GRANT, 100, at=NOW),
    ]
    lines = rollups_of(entries)
    within = day_range(day_of(NOW), day_of(NOW + 40 * DAY), NOW)
    days = report(lines, within, Granularity.DAY, ())
    assert [(r.period, r.tokens, r.count) for r in days.rows] == [
        (day_of(NOW), 6, 2),
        (day_of(NOW + DAY), 10, 1),
        (day_of(NOW + 40 * DAY), 1, 1),
    ]
    assert (days.totals.tokens, days.totals.quantity, days.totals.count) == (17, 5, 4)
    by = report(lines, within, Granularity.MONTH, (Dimension.FEATURE, Dimension.PROJECT, Dimension.KEY))
    assert sum(r.tokens for r in by.rows) == 17 and {r.period for r in by.rows} <= {
        day_of(NOW)[:7],
        day_of(NOW + DAY)[:7],
        day_of(NOW + 40 * DAY)[:7],
    }
    assert {(r.feature, r.project_id, r.key_id) for r in by.rows} == {
        ("build", None, "lk_a"),
        ("build", "pj_1", "ak_1"),
        ("deploy", None, "lk_a"),
    }
    first_day = report(lines, day_range(day_of(NOW), day_of(NOW), NOW), Granularity.DAY, ())
    assert first_day.totals.tokens == 6


def test_csv_parses_and_sums_as_the_json() -> None:
    lines = rollups_of([entry(n, amount=-n, quantity=n, feature=f"f{n % 3}") for n in range(1, 30)])
    usage = report(lines, day_range(day_of(NOW), day_of(NOW), NOW), Granularity.DAY, (Dimension.FEATURE,))
    rows = list(csv.DictReader(io.StringIO(csv_text(usage))))
    assert len(rows) == 3
    assert sum(int(r["tokens"]) for r in rows) == usage.totals.tokens == sum(range(1, 30))
    assert sum(int(r["count"]) for r in rows) == 29


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2026-02-30", None, "from"),
        ("2026-1-01", None, "from"),
        ("2026-11-02", "2026-11-01", "from"),
        ("2024-01-01", "2026-01-01", "to"),
        ("1999-12-31", "2000-01-02", "from"),
        ("２０２６-01-01", None, "from"),
        ("9999-12-01", "9999-12-31", "to"),  # more than ten years ahead (issue 20): refused, not answered
        ("2040-01-01", None, "from"),  # `to` defaults to today: `from` after it
        ("2040-01-01", "2040-01-02", "to"),
    ],
)
def test_bad_ranges_name_the_field(first: str, last: str | None, field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        day_range(first, last, NOW)
    assert refused.value.field == field


@pytest.mark.parametrize("last", ["0001-01-01", "0001-01-29", "1999-12-31"])
def test_a_to_before_2000_without_from_is_refused_not_overflowed(last: str) -> None:
    with pytest.raises(InvalidField) as refused:  # the default start (29 days before) once overflowed: a 500
        day_range(None, last, NOW)
    assert refused.value.field == "to"


def test_group_by_is_a_set_of_known_dimensions() -> None:
    assert parse_group_by("key,feature") == (Dimension.FEATURE, Dimension.KEY)
    for bad in ("feature,feature", "region", "feature,"):
        with pytest.raises(InvalidField):
            parse_group_by(bad)


# the forecast


def lot(n: int, tokens: int, expires_at: int | None = None, remaining: int | None = None) -> Lot:
    return Lot(f"lot_{n}", "tn_x", tokens, tokens if remaining is None else remaining, NOW - 100 * DAY, expires_at)


def test_burn_rate_counts_complete_days_since_the_tenant_existed() -> None:
    today = day_of(NOW)
    spent = {day_of(NOW - d * DAY): 100 for d in range(1, 40)} | {today: 10_000}
    assert burn_rate(spent, NOW, NOW - 100 * DAY, 7).per_day == 100  # today's partial day left out
    young = burn_rate(spent, NOW, NOW - 3 * DAY, 30)
    assert (young.days_counted, young.per_day) == (3, 100)


def test_depletion_with_a_steady_burn_and_no_expiry() -> None:
    spent = {day_of(NOW - d * DAY): 100 for d in range(1, 8)}
    views = allocate([lot(1, 1000)], 1000)
    result = forecast(NOW, NOW - 30 * DAY, spent, 1000, 0, views, [], {})
    assert result.depletes_at == NOW + 10 * DAY
    assert [f.projected_unused for f in result.lots] == [0]


def test_a_lot_ending_before_it_is_burnt_leaves_the_rest_unused_and_burning_moves_on() -> None:
    views = [LotView(lot(1, 500, expires_at=NOW + 2 * DAY), 500), LotView(lot(2, 1000), 1000)]
    depletes_at, lots = project_lots(views, 0, 100.0, NOW)
    assert [f.projected_unused for f in lots] == [300, 0]
    assert depletes_at == NOW + 2 * DAY + 10 * DAY
    held_ends, held = project_lots(views, 200, 100.0, NOW)  # held tokens come out of the first lot
    assert ([f.projected_unused for f in held], held_ends) == ([100, 0], NOW + 12 * DAY)
    idle_ends, idle = project_lots(views, 0, 0.0, NOW)
    assert (idle_ends, [f.projected_unused for f in idle]) == (None, [500, 0])


def test_project_budget_depletion() -> None:
    project = Project("pj_1", "tn_x", "p", NOW - 50 * DAY, budget=1000, spent=300, committed=300)
    spent = {"pj_1": {day_of(NOW - d * DAY): 50 for d in range(1, 8)}}
    result = forecast(NOW, NOW - 50 * DAY, {}, 0, 0, [], [project], spent)
    assert result.projects[0].depletes_at == NOW + 14 * DAY
    assert result.depletes_at == NOW  # nothing available: depleted now


# rollups on moto


@pytest.fixture
def world(table: str) -> LeaseWorld:
    return LeaseWorld()


def spend(world: LeaseWorld, caller: Principal, uses: int) -> None:
    member = world.license(caller)
    for n in range(uses):
        status, _ = world.pool.consume(member, "build" if n % 2 else "deploy", 1 + n % 3, f"u{n}")
        assert status == 200


def ledger(world: LeaseWorld, caller: Principal) -> list[LedgerEntry]:
    from tollgate.reports.store import DynamoUsageRepository

    return DynamoUsageRepository().ledger(caller.tenant_id)


def stored(caller: Principal) -> list[UsageLine]:
    from tollgate.reports.store import DynamoUsageRepository

    lines = DynamoUsageRepository().lines(caller.tenant_id, day_range("2000-01-01", "2000-12-31", NOW))
    assert lines == []
    within = day_range(day_of(NOW - 300 * DAY), day_of(NOW + 60 * DAY), NOW)
    return sorted(DynamoUsageRepository().lines(caller.tenant_id, within), key=lambda line: line.identity)


def test_each_entry_counts_once_whatever_is_delivered_again(world: LeaseWorld) -> None:
    from tollgate.reports.store import DynamoUsageRepository

    caller = world.tenant(10_000)
    spend(world, caller, 60)
    entries = [e for e in ledger(world, caller) if e.kind is EntryKind.CONSUMPTION]
    truth = rollups_of(entries)
    usage = DynamoUsageRepository()
    first = usage.apply(caller.tenant_id, entries[:40])
    assert (first.counted, first.repeated) == (40, 0)
    again = usage.apply(caller.tenant_id, entries[20:] + entries[:5])  # 25 seen before, 20 new
    assert (again.counted, again.repeated) == (20, 25)
    assert usage.apply(caller.tenant_id, entries).counted == 0
    assert stored(caller) == sorted(truth, key=lambda line: line.identity)
    assert sum(line.tokens for line in truth) == -sum(e.amount for e in entries)


def test_the_aggregator_reads_stream_records_and_reports_failures(world: LeaseWorld) -> None:
    from tollgate.kernel import keys
    from tollgate.kernel.items import LedgerEntryItem
    from tollgate.reports.store import DynamoUsageRepository
    from tollgate.reports.store_stream import UsageAggregator

    caller = world.tenant(1000)
    spend(world, caller, 12)
    items = list(LedgerEntryItem.query(keys.ledger_pk(caller.tenant_id)))
    records = [
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": str(n), "NewImage": item.serialize()}}
        for n, item in enumerate(items)
    ]
    records.append({"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "99", "NewImage": {}}})
    logged: list[str] = []
    aggregator = UsageAggregator(DynamoUsageRepository(), lambda message, _: logged.append(message))
    result = aggregator.process(records)
    assert (result.entries, result.counted, result.failed) == (13, 12, [])
    redelivered = aggregator.process(records[:7])
    assert (redelivered.counted, redelivered.repeated) == (0, 6)
    assert sum(line.count for line in stored(caller)) == 12
    broken = aggregator.process([{"eventName": "INSERT", "dynamodb": {"SequenceNumber": "7", "NewImage": {"pk": 5}}}])
    assert broken.failed == ["7"] and logged == ["unreadable stream record"]
    assert broken.answer() == {"batchItemFailures": [{"itemIdentifier": "7"}]}


def test_rebuild_counts_the_ledger_afresh_and_a_stale_batch_is_refused(world: LeaseWorld) -> None:
    from tollgate.reports.store import DynamoUsageRepository

    caller = world.tenant(10_000)
    spend(world, caller, 30)
    usage = DynamoUsageRepository()
    entries = ledger(world, caller)
    usage.apply(caller.tenant_id, entries[:10])
    rebuilt = usage.rebuild(caller.tenant_id)
    assert (rebuilt.old_generation, rebuilt.generation) == (0, 1)
    assert stored(caller) == sorted(rollups_of(entries), key=lambda line: line.identity)
    stale = usage._transaction(caller.tenant_id, 0, entries[:1], checked=True)
    from tollgate.kernel.pool import Refused

    with pytest.raises(Refused):
        stale.commit()
    spend_more = world.license(caller)
    world.pool.consume(spend_more, "build", 5, "late")
    usage.apply(caller.tenant_id, ledger(world, caller))  # the aggregator, into the new generation
    assert stored(caller) == sorted(rollups_of(ledger(world, caller)), key=lambda line: line.identity)
    assert usage.rebuild(caller.tenant_id).generation == 2


def test_reports_of_a_tenant_without_usage(world: LeaseWorld) -> None:
    """(Reports are for owner, admin, billing and auditor: stated at the routes, proven through the handlers in
    test_portal_authorisation.py.)"""
    from tollgate.pool.store import DynamoPoolRepository
    from tollgate.reports.service import ReportService
    from tollgate.reports.store import DynamoUsageRepository
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    caller = world.tenant(100)
    purchases: Any = None
    service = ReportService(
        DynamoUsageRepository(), DynamoPoolRepository(), DynamoProjectRepository(), purchases, world.clock
    )
    assert service.usage(caller, None, None, "month", "feature").totals.tokens == 0
    assert service.forecast(caller).depletes_at is None
