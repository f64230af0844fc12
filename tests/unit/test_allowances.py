"""Allowances on moto (one thread): a block held, spent in process, settled by cumulative reports,
renewed in one call, charged in full when nobody settles it; the audit clean after each."""

from __future__ import annotations

import pytest

from infra.audit.books import DynamoBooks
from infra.audit.rules import audit_tenant
from tests.unit.leasing import NOW, LeaseWorld
from tollgate.core.errors import (
    AllowanceEnded,
    Forbidden,
    IdempotencyKeyReused,
    InsufficientTokens,
    InvalidField,
)
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import LicenseKey, Principal
from tollgate.holds.service_allowances import AllowanceService, AllowanceStatus

COST = 3  # feature "build" costs 3 tokens a use (tests/unit/leasing.py)


class AllowanceWorld(LeaseWorld):
    def __init__(self) -> None:
        super().__init__()
        from tollgate.holds.store import DynamoAllowanceRepository
        from tollgate.pool.service_sweeper import SweeperService
        from tollgate.pool.store_expiry import DynamoDueIndex

        self.allowances = AllowanceService(
            DynamoAllowanceRepository(), self.catalog, self.clock, RANDOM_IDS, settler=self.expiry
        )
        self.sweeper = SweeperService(
            DynamoDueIndex(), self.leases, self.expiry, self.clock, page_size=50, allowances=self.allowances
        )

    def audit(self, caller: Principal) -> list[str]:
        return audit_tenant(DynamoBooks().books(caller.tenant_id))


@pytest.fixture
def world(table: str) -> AllowanceWorld:
    return AllowanceWorld()


def test_open_holds_the_block_and_a_retry_returns_it(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    status, allowance = world.allowances.open(caller, "build", 30, 300, "a1")
    assert (status, allowance.held, allowance.cost_per_use, allowance.expires_at) == (201, 30, COST, NOW + 300)
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (100, 30, 70)
    again = world.allowances.open(caller, "build", 30, 300, "a1")
    assert again[1].id == allowance.id and world.repo.pool(caller.tenant_id).reserved == 30
    with pytest.raises(IdempotencyKeyReused):
        world.allowances.open(caller, "build", 31, 300, "a1")
    assert world.audit(caller) == []


def test_cumulative_reports_charge_each_use_once(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    _, allowance = world.allowances.open(caller, "build", 30, 300, "a1")
    after = world.allowances.settle(caller, allowance.id, 4, final=False, renew=False)
    assert (after.used, after.charged, after.held) == (4, 12, 18)
    same = world.allowances.settle(caller, allowance.id, 4, final=False, renew=False)  # a retry
    older = world.allowances.settle(caller, allowance.id, 2, final=False, renew=False)  # a late report
    assert same == after and older == after
    done = world.allowances.settle(caller, allowance.id, 6, final=True, renew=False)
    assert (done.status, done.charged, done.held) == (AllowanceStatus.SETTLED, 18, 0)
    assert world.allowances.settle(caller, allowance.id, 6, final=True, renew=False) == done  # retried final
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (82, 0, 82)
    with pytest.raises(AllowanceEnded):
        world.allowances.settle(caller, allowance.id, 7, final=False, renew=False)
    assert world.audit(caller) == []


def test_settle_and_renew_tops_the_block_up_in_one_call(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    _, allowance = world.allowances.open(caller, "build", 30, 300, "a1")
    world.clock.advance(200)
    renewed = world.allowances.settle(caller, allowance.id, 10, final=False, renew=True)  # the whole block spent
    assert (renewed.held, renewed.charged, renewed.expires_at) == (30, 30, NOW + 500)
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved, pool.available) == (70, 30, 40)
    assert world.audit(caller) == []


def test_uses_beyond_the_hold_are_refused_and_change_nothing(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    _, allowance = world.allowances.open(caller, "build", 30, 300, "a1")
    with pytest.raises(InvalidField) as refused:
        world.allowances.settle(caller, allowance.id, 11, final=True, renew=False)
    assert refused.value.field == "used"
    assert world.repo.pool(caller.tenant_id).reserved == 30
    assert world.audit(caller) == []


def test_an_allowance_nobody_settles_is_charged_in_full_at_its_end(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    _, allowance = world.allowances.open(caller, "build", 30, 60, "a1")
    world.allowances.settle(caller, allowance.id, 2, final=False, renew=False)
    world.clock.advance(61)
    report = world.sweeper.sweep()
    assert report.allowances_expired == 1
    pool = world.repo.pool(caller.tenant_id)
    assert (pool.balance, pool.reserved) == (70, 0)  # 6 for the 2 reported uses, then the 24 still held
    assert world.sweeper.sweep().allowances_expired == 0  # safe twice
    with pytest.raises(AllowanceEnded):
        world.allowances.settle(caller, allowance.id, 3, final=True, renew=False)
    assert world.audit(caller) == []


def test_a_late_settlement_finds_it_charged_in_full_before_the_sweeper(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    _, allowance = world.allowances.open(caller, "build", 30, 60, "a1")
    world.clock.advance(61)
    with pytest.raises(AllowanceEnded):
        world.allowances.settle(caller, allowance.id, 1, final=True, renew=False)
    assert world.repo.pool(caller.tenant_id).balance == 70
    assert world.audit(caller) == []


def test_holds_need_available_tokens_and_only_the_opener_settles(world: AllowanceWorld) -> None:
    caller = world.tenant(20)
    with pytest.raises(InsufficientTokens):
        world.allowances.open(caller, "build", 30, 300, "a1")
    opener = world.license(caller)
    _, allowance = world.allowances.open(opener, "build", 12, 300, "a2")
    other_key = LicenseKey("lk_other", caller.tenant_id, "k2", "d", "h", ("eu-west-1",), NOW)
    other = Principal(tenant=caller.tenant, key_id=other_key.id, license_key=other_key)
    with pytest.raises(Forbidden):
        world.allowances.settle(other, allowance.id, 1, final=True, renew=False)
    with pytest.raises(InsufficientTokens):  # 8 available: renewing the spent block needs 12 more
        world.allowances.settle(opener, allowance.id, 4, final=False, renew=True)
    assert world.allowances.settle(opener, allowance.id, 4, final=True, renew=False).charged == 12
    assert world.audit(caller) == []


def test_bad_input(world: AllowanceWorld) -> None:
    caller = world.tenant(100)
    with pytest.raises(InvalidField):
        world.allowances.open(caller, "build", 2, 300, "a1")  # less than one use
    with pytest.raises(InvalidField):
        world.allowances.open(caller, "build", 30, 5, "a2")  # ttl below the minimum
    _, allowance = world.allowances.open(caller, "build", 30, 300, "a3")
    with pytest.raises(InvalidField):
        world.allowances.settle(caller, allowance.id, 1, final=True, renew=True)
