"""Lot expiry (on read and by the sweeper) and the sweeper's paging, on moto (one thread)."""

from __future__ import annotations

import pytest

from tests.unit.conftest import raw_items
from tests.unit.leasing import DAY, HOUR, NOW, LeaseWorld
from tollgate.core.clock import FixedClock
from tollgate.core.errors import InsufficientTokens
from tollgate.core.models import Lot, Pool
from tollgate.pool.rules_expiry import first_due
from tollgate.pool.service_sweeper import SweeperService
from tollgate.pool.store_expiry import DynamoDueIndex


@pytest.fixture
def world(table: str) -> LeaseWorld:
    return LeaseWorld()


def _lot(lot_id: str, remaining: int, expires_at: int | None) -> Lot:
    return Lot(lot_id, "t", remaining, remaining, NOW, expires_at=expires_at)


def test_first_due_takes_what_spend_and_reservations_leave() -> None:
    lots = [_lot("a", 10, NOW), _lot("b", 10, NOW + DAY), _lot("c", 10, None)]
    # 30 credited, 6 consumed, 3 reserved: available 21; burn order a, b, c; a's 10 cover 6 spent + 3 held
    plan = first_due(lots, Pool(balance=24, reserved=3), NOW)
    assert plan is not None
    assert (plan.lot.id, plan.leftover, plan.remaining_after, plan.next_lot_expiry) == ("a", 1, 9, NOW + DAY)
    assert first_due(lots, Pool(balance=24, reserved=3), NOW - 1) is None
    owing = first_due(lots, Pool(balance=-5), NOW)  # a tenant who owes loses nothing more than the lot
    assert owing is not None
    assert owing.leftover == 0


def test_a_lot_expires_and_leaves_the_ledger_consistent(world: LeaseWorld) -> None:
    caller = world.tenant()
    world.pool.grant(caller.tenant_id, 10, "trial", "operator:test", valid_days=1)
    world.pool.grant(caller.tenant_id, 20, "paid", "operator:test")
    world.pool.consume(caller, "build", 2, "a")  # 6 tokens, taken from the trial lot first
    world.clock.advance(DAY)
    # before the sweeper ran: the trial's 4 unspent tokens are refused at once (24 would need them)
    with pytest.raises(InsufficientTokens):
        world.pool.consume(caller, "build", 8, "b")
    assert world.repo.pool(caller.tenant_id).balance == 20  # the refusal settled the lot on read
    world.pool.consume(caller, "build", 1, "c")
    assert world.ledger(caller)[:2] == [("consumption", -3), ("lot_expiry", -4)]
    world.assert_consistent(caller)
    view = world.pool.balance(caller)
    assert (view.pool.balance, view.pool.next_lot_expiry) == (17, None)
    assert [(v.lot.grant_reason, v.left) for v in view.lots] == [("paid", 17)]
    # the sweeper finds nothing more to do
    report = world.sweeper.sweep()
    assert (report.lots_expired, report.leases_expired, report.errors) == (0, 0, 0)


def test_sweeper_expires_lots_in_burn_order_and_twice_changes_nothing(world: LeaseWorld, table: str) -> None:
    caller = world.tenant()
    world.pool.grant(caller.tenant_id, 10, "one day", "operator:test", valid_days=1)
    world.pool.grant(caller.tenant_id, 10, "two days", "operator:test", valid_days=2)
    world.pool.grant(caller.tenant_id, 10, "ten days", "operator:test", valid_days=10)
    world.pool.consume(caller, "build", 4, "a")  # 12: all of the first lot, 2 of the second
    world.clock.advance(3 * DAY)
    report = world.sweeper.sweep()
    assert (report.lots_expired, report.errors, report.remaining) == (2, 0, 0)
    assert world.ledger(caller)[:2] == [("lot_expiry", -8), ("lot_expiry", 0)]  # zero entry: audited
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.next_lot_expiry) == (10, NOW + 10 * DAY)
    world.assert_consistent(caller)
    before = sorted(map(str, raw_items(table)))
    again = world.sweeper.sweep()
    assert (again.lots_expired, again.leases_expired) == (0, 0)
    assert sorted(map(str, raw_items(table))) == before
    lots = {lot.id: lot for lot in world.repo.lots(caller.tenant_id)}
    assert sorted((lot.expired, lot.remaining) for lot in lots.values()) == [(False, 10), (True, 2), (True, 10)]


def test_lot_expiry_never_takes_tokens_a_running_lease_holds(world: LeaseWorld) -> None:
    caller = world.tenant()
    world.pool.grant(caller.tenant_id, 30, "trial", "operator:test", valid_days=1)
    world.clock.advance(DAY - HOUR)
    world.leases.open(caller, "build", 2 * HOUR, "k")  # holds 20 of the trial's 30
    world.clock.advance(HOUR)
    assert world.sweeper.sweep().lots_expired == 1
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (20, 20, 0)
    world.clock.advance(HOUR)
    report = world.sweeper.sweep()
    assert report.leases_expired == 1
    assert world.repo.pool(caller.tenant_id).balance == 0  # charged for its two hours, never below zero
    world.assert_consistent(caller)


def test_sweeper_pages_and_stops_with_a_margin(world: LeaseWorld) -> None:
    caller = world.tenant(1000)
    for n in range(7):
        world.leases.open(caller, "build", 600 + n, f"k{n}")
    world.clock.advance(HOUR)
    small = SweeperService(DynamoDueIndex(), world.leases, world.expiry, world.clock, page_size=3)
    budget = iter([60_000, 60_000, 0])  # time for two pages, then the margin is reached
    first = small.sweep(lambda: next(budget))
    assert (first.pages, first.leases_expired, first.stopped_early, first.remaining) == (2, 6, True, 1)
    rest = small.sweep()
    assert (rest.leases_expired, rest.remaining, rest.stopped_early) == (1, 0, False)
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved) == (930, 0)
    world.assert_consistent(caller)


def test_nothing_due_is_one_query(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    world.leases.open(caller, "build", HOUR, "k")
    report = world.sweeper.sweep()
    assert (report.pages, report.examined, report.leases_expired) == (1, 0, 0)


def test_a_failing_record_is_logged_through_the_injected_logger_and_left_due() -> None:
    from tollgate.pool.service_sweeper import DueKind, DuePage, DueRecord

    class OneDue:
        def due(self, now: int, cursor: object, limit: int) -> DuePage:
            return DuePage([DueRecord("tn_a", DueKind.LEASE, "lease_x", now)], None)

        def count_due(self, now: int) -> int:
            return 1

    class Broken:
        def expire_if_due(self, tenant_id: str, lease_id: str) -> bool:
            raise RuntimeError("store down")

        def expire_due_lots(self, tenant_id: str) -> int:
            raise AssertionError("no lots here")

    logged: list[tuple[str, dict]] = []
    sweeper = SweeperService(
        OneDue(), Broken(), Broken(), FixedClock(1), log_failure=lambda m, f: logged.append((m, f))
    )
    report = sweeper.sweep()
    assert report.errors == 1
    assert logged == [("settling a due record failed", {"kind": "lease", "record_id": "lease_x", "tenant_id": "tn_a"})]
