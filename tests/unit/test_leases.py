"""Leases on moto (one thread): reservation, heartbeat, check-in, expiry on read and by the sweeper."""

from __future__ import annotations

import pytest

from tests.unit.leasing import COST_PER_HOUR, HOUR, NOW, LeaseWorld
from tollgate.core.errors import (
    Forbidden,
    IdempotencyKeyReused,
    InsufficientTokens,
    InvalidField,
    LeaseClosed,
    LeaseExpired,
    NotFound,
    TenantSuspended,
)
from tollgate.core.models import TenantStatus
from tollgate.holds.service_leases import MAX_LEASE_S, LeaseStatus, hours_started


@pytest.fixture
def world(table: str) -> LeaseWorld:
    return LeaseWorld()


def test_hours_started() -> None:
    assert [hours_started(0, s) for s in (0, 1, 3599, 3600, 3601, 7200)] == [1, 1, 1, 1, 2, 2]


def test_open_reserves_without_touching_the_balance(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    status, lease = world.leases.open(caller, "build", 90 * 60, "k1")  # 1h30: two hours started
    assert status == 201
    assert (lease.reserved, lease.expires_at, lease.status) == (2 * COST_PER_HOUR, NOW + 5400, LeaseStatus.OPEN)
    assert lease.heartbeat_interval_s == 300
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (100, 20, 80)
    assert world.ledger(caller) == [("grant", 100)]
    world.assert_consistent(caller)


def test_open_is_idempotent(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, first = world.leases.open(caller, "build", 600, "same")
    status, again = world.leases.open(caller, "build", 600, "same")
    assert (status, again.id) == (201, first.id)
    assert world.repo.pool(caller.tenant_id).reserved == COST_PER_HOUR
    with pytest.raises(IdempotencyKeyReused):
        world.leases.open(caller, "build", 1200, "same")


def test_open_refused_when_available_is_short_changes_nothing(world: LeaseWorld) -> None:
    caller = world.tenant(25)
    world.leases.open(caller, "build", 2 * HOUR, "a")  # holds 20 of 25
    with pytest.raises(InsufficientTokens):
        world.leases.open(caller, "build", 600, "b")  # needs 10, 5 available
    with pytest.raises(InsufficientTokens):
        world.pool.consume(caller, "build", 2, "c")  # 6 > 5 available: reserved tokens cannot be consumed
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved) == (25, 20)
    world.assert_consistent(caller)


def test_open_checks_input_scope_and_status(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    with pytest.raises(InvalidField) as error:
        world.leases.open(caller, "nope", 600, "a")
    assert error.value.field == "feature"
    with pytest.raises(InvalidField):
        world.leases.open(caller, "build", MAX_LEASE_S + 1, "b")
    with pytest.raises(Forbidden):
        world.leases.open(world.license(caller, features=("deploy",)), "build", 600, "c")
    world.leases.open(world.license(caller, features=("build",)), "build", 600, "d")
    world.tenants.set_status(caller.tenant_id, TenantStatus.SUSPENDED)
    with pytest.raises(TenantSuspended):  # the principal still says active; the write's condition catches it
        world.leases.open(caller, "build", 600, "e")


def test_checked_in_lease_charges_only_the_hours_started(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, lease = world.leases.open(caller, "build", 3 * HOUR, "k")  # reserves 30
    world.clock.advance(HOUR + 60)  # two hours started
    closed = world.leases.close(caller, lease.id)
    assert (closed.status, closed.charged, closed.ended_at) == (LeaseStatus.CLOSED, 20, NOW + HOUR + 60)
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (80, 0, 80)
    assert world.ledger(caller) == [("lease_charge", -20), ("grant", 100)]
    world.assert_consistent(caller)
    # a second check-in returns the same closed lease and charges nothing
    world.clock.advance(HOUR)
    again = world.leases.close(caller, lease.id)
    assert again == closed
    assert world.repo.pool(caller.tenant_id).balance == 80
    with pytest.raises(LeaseClosed):
        world.leases.heartbeat(caller, lease.id)


def test_immediate_check_in_charges_one_hour(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, lease = world.leases.open(caller, "build", 2 * HOUR, "k")
    assert world.leases.close(caller, lease.id).charged == COST_PER_HOUR
    assert world.repo.pool(caller.tenant_id).available == 90


def test_heartbeat_extends_and_reserves_a_new_hour_only_when_started(world: LeaseWorld) -> None:
    caller = world.tenant(1000)
    _, lease = world.leases.open(caller, "build", 1800, "k")  # ends NOW+30m, reserves 1 h
    world.clock.advance(600)
    beat = world.leases.heartbeat(caller, lease.id)  # ends NOW+40m: still the first hour
    assert (beat.expires_at, beat.reserved) == (NOW + 2400, 10)
    world.clock.advance(1500)
    beat = world.leases.heartbeat(caller, lease.id)  # ends NOW+65m: a second hour starts
    assert (beat.expires_at, beat.reserved) == (NOW + 3900, 20)
    assert world.repo.pool(caller.tenant_id).reserved == 20
    beat = world.leases.heartbeat(caller, lease.id, extend_s=MAX_LEASE_S)  # capped at the maximum length
    assert (beat.expires_at, beat.reserved) == (NOW + MAX_LEASE_S, 24 * COST_PER_HOUR)
    world.assert_consistent(caller)


def test_heartbeat_refused_when_the_next_hour_is_not_covered(world: LeaseWorld) -> None:
    caller = world.tenant(15)
    _, lease = world.leases.open(caller, "build", 3000, "k")
    world.clock.advance(2000)
    with pytest.raises(InsufficientTokens):
        world.leases.heartbeat(caller, lease.id, extend_s=3600)
    still = world.leases.heartbeat(caller, lease.id, extend_s=60)  # within the reserved hour: fine
    assert (still.expires_at, still.reserved) == (NOW + 3000, 10)  # never moves the end backwards
    world.assert_consistent(caller)


def test_heartbeat_after_expiry_is_refused_before_the_sweeper_ran(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, lease = world.leases.open(caller, "build", 90 * 60, "k")
    world.clock.advance(90 * 60)  # exactly at its end: no longer alive
    with pytest.raises(LeaseExpired):
        world.leases.heartbeat(caller, lease.id)
    # refusing it settled it at once: charged for its life (start to end), reservation released
    settled = world.leases.close(caller, lease.id)
    assert (settled.status, settled.charged, settled.ended_at) == (LeaseStatus.EXPIRED, 20, NOW + 5400)
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved) == (80, 0)
    assert world.sweeper.sweep().leases_expired == 0
    world.assert_consistent(caller)


def test_check_in_after_expiry_settles_as_expired(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, lease = world.leases.open(caller, "build", 600, "k")
    world.clock.advance(5 * HOUR)
    closed = world.leases.close(caller, lease.id)
    assert (closed.status, closed.charged, closed.ended_at) == (LeaseStatus.EXPIRED, 10, NOW + 600)
    assert world.repo.pool(caller.tenant_id).balance == 90


def test_lease_that_stops_heartbeating_is_charged_and_released_by_the_sweeper(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, lease = world.leases.open(caller, "build", 2 * HOUR, "k")
    world.leases.heartbeat(caller, lease.id, extend_s=2 * HOUR + 1800)  # ends at 2h30: three hours reserved
    world.clock.advance(HOUR)
    assert world.sweeper.sweep().leases_expired == 0  # not due yet
    world.clock.advance(2 * HOUR)
    report = world.sweeper.sweep()
    assert (report.leases_expired, report.errors, report.remaining) == (1, 0, 0)
    expired = world.leases.close(caller, lease.id)
    assert (expired.status, expired.charged) == (LeaseStatus.EXPIRED, 30)
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (70, 0, 70)
    assert world.ledger(caller)[0] == ("lease_charge", -30)
    world.assert_consistent(caller)


def test_leases_belong_to_their_tenant(world: LeaseWorld) -> None:
    owner, other = world.tenant(100), world.tenant(100)
    _, lease = world.leases.open(owner, "build", 600, "k")
    for attempt in (world.leases.heartbeat, world.leases.close):
        with pytest.raises(NotFound):
            attempt(other, lease.id)
    assert world.repo.pool(owner.tenant_id).reserved == 10


def test_a_project_scoped_lease_holds_and_then_spends_the_project_budget(world: LeaseWorld) -> None:
    from tollgate.core.errors import ProjectBudgetExhausted
    from tollgate.core.ids import RANDOM_IDS
    from tollgate.core.models import LicenseKey, Principal
    from tollgate.tenancy.service_projects import ProjectService
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    projects = ProjectService(DynamoProjectRepository(), world.clock, RANDOM_IDS)
    owner = world.tenant(1000)
    project = projects.create(owner, "ci", budget=35)
    key = LicenseKey("lk_p", owner.tenant_id, "k", "d", "h", ("eu-west-1",), NOW, project_id=project.id)
    scoped = Principal(tenant=owner.tenant, key_id=key.id, license_key=key)

    _, lease = world.leases.open(scoped, "build", 3 * HOUR, "a")  # holds 30 of the 35
    with pytest.raises(ProjectBudgetExhausted):
        world.leases.open(scoped, "build", HOUR, "b")  # 10 more does not fit
    [held] = projects.list(owner)
    assert (held.spent, held.budget_left) == (0, 5)

    world.clock.advance(HOUR + 60)  # two hours started
    world.leases.close(scoped, lease.id)
    [settled] = projects.list(owner)
    assert (settled.spent, settled.budget_left) == (20, 15)
    projects.update(owner, project.id, None, 50)  # a new budget counts what is spent and held
    [raised] = projects.list(owner)
    assert raised.budget_left == 30
    assert world.repo.pool(owner.tenant_id).balance == 980
    world.assert_consistent(owner)
