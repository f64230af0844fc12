from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.conftest import FakePayments
from tollgate.core.clock import FixedClock
from tollgate.core.errors import (
    IdempotencyKeyReused,
    InsufficientTokens,
    InvalidField,
    ProjectBudgetExhausted,
    TenantSuspended,
)
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Feature, LicenseKey, Principal, TenantStatus
from tollgate.pool.service import PoolService
from tollgate.tenancy.service import SignupRequest, TenantService
from tollgate.tenancy.service_projects import ProjectService

NOW = 1_800_000_000


class World:
    def __init__(self) -> None:
        from tollgate.pool.store import DynamoPoolRepository
        from tollgate.purchases.store_catalog import DynamoCatalogRepository
        from tollgate.tenancy.store import DynamoTenantRepository
        from tollgate.tenancy.store_projects import DynamoProjectRepository

        self.clock = FixedClock(NOW)
        self.tenants = TenantService(DynamoTenantRepository(), FakePayments(), self.clock, RANDOM_IDS, lambda: "p")
        self.catalog = DynamoCatalogRepository(self.clock)
        self.catalog.put_feature(Feature("build", cost_per_use=3, cost_per_hour=10))
        self.repo = DynamoPoolRepository()
        self.pool = PoolService(self.repo, self.catalog, self.clock, RANDOM_IDS)
        self.projects = ProjectService(DynamoProjectRepository(), self.clock, RANDOM_IDS)

    def tenant(self, tokens: int = 0) -> Principal:
        issued = self.tenants.sign_up(SignupRequest("Acme", "a@acme.example", "eu-west-1"), None).owner_key
        if tokens:
            self.pool.grant(issued.key.tenant_id, tokens, "test credit", "operator:test")
        return self.tenants.authenticate(issued.secret)

    def ledger_sum(self, caller: Principal) -> int:
        page = self.pool.ledger(caller, None, 200)
        assert page.cursor is None
        return sum(e.amount for e in page.entries)


@pytest.fixture
def world(table: str) -> World:
    return World()


def test_consume_debits_pool_and_writes_ledger(world: World) -> None:
    caller = world.tenant(10)
    status, body = world.pool.consume(caller, "build", 2, "k1")
    assert (status, body["charged"], body["balance_after"]) == (200, 6, 4)
    assert world.repo.pool(caller.tenant_id).balance == 4
    entries = world.pool.ledger(caller, None, 50).entries
    assert [e.amount for e in entries] == [-6, 10]
    assert entries[0].id == body["entry_id"] and entries[0].balance_after == 4 and entries[1].balance_after == 10


def test_insufficient_tokens_changes_nothing(world: World) -> None:
    caller = world.tenant(5)
    with pytest.raises(InsufficientTokens):
        world.pool.consume(caller, "build", 2, "k1")
    assert world.repo.pool(caller.tenant_id).balance == 5
    assert world.ledger_sum(caller) == 5
    assert world.repo.stored_answer(caller.tenant_id, f"consume:{caller.key_id}", "k1") is None


def test_retry_with_same_key_charges_once_and_answers_the_same(world: World) -> None:
    caller = world.tenant(10)
    first = world.pool.consume(caller, "build", 1, "same")
    again = world.pool.consume(caller, "build", 1, "same")
    assert again == first
    assert world.repo.pool(caller.tenant_id).balance == 7


def test_same_key_different_body_is_a_conflict(world: World) -> None:
    caller = world.tenant(10)
    world.pool.consume(caller, "build", 1, "same")
    with pytest.raises(IdempotencyKeyReused):
        world.pool.consume(caller, "build", 2, "same")
    assert world.repo.pool(caller.tenant_id).balance == 7


def test_idempotent_answer_is_kept_a_day(world: World) -> None:
    caller = world.tenant(10)
    first = world.pool.consume(caller, "build", 1, "day")
    world.clock.advance(23 * 3600)
    assert world.pool.consume(caller, "build", 1, "day") == first
    world.clock.advance(2 * 3600)
    with pytest.raises(IdempotencyKeyReused):
        world.pool.consume(caller, "build", 1, "day")
    assert world.repo.pool(caller.tenant_id).balance == 7


def test_unknown_feature_is_an_invalid_field(world: World) -> None:
    caller = world.tenant(10)
    with pytest.raises(InvalidField) as error:
        world.pool.consume(caller, "nope", 1, "k")
    assert error.value.field == "feature"


def test_suspended_tenant_cannot_consume(world: World) -> None:
    caller = world.tenant(10)
    world.tenants.set_status(caller.tenant_id, TenantStatus.SUSPENDED)
    # the principal read before the suspension still carries "active": the write's condition catches it
    with pytest.raises(TenantSuspended):
        world.pool.consume(caller, "build", 1, "k")
    assert world.repo.pool(caller.tenant_id).balance == 10


def test_project_budget_limits_a_scoped_key(world: World) -> None:
    caller = world.tenant(100)
    project = world.projects.create(caller, "ci", budget=7)
    key = LicenseKey("lk_x", caller.tenant_id, "k", "d", "h", ("eu-west-1",), NOW, project_id=project.id)
    scoped = Principal(tenant=caller.tenant, key_id="lk_x", license_key=key)
    world.pool.consume(scoped, "build", 2, "a")
    with pytest.raises(ProjectBudgetExhausted):
        world.pool.consume(scoped, "build", 1, "b")
    assert world.repo.pool(caller.tenant_id).balance == 94
    world.projects.update(caller, project.id, None, 20)
    world.pool.consume(scoped, "build", 1, "c")
    [stored] = world.projects.list(caller)
    assert (stored.spent, stored.budget_left) == (9, 11)


def test_negative_adjustment_and_grant_show_in_ledger(world: World) -> None:
    caller = world.tenant(50)
    world.pool.grant(caller.tenant_id, -20, "goodwill reversal", "operator:test")
    assert world.repo.pool(caller.tenant_id).balance == 30
    assert world.ledger_sum(caller) == 30
    with pytest.raises(InvalidField):
        world.pool.grant(caller.tenant_id, 5, "  ", "operator:test")


def test_a_negative_adjustment_never_takes_the_pool_below_zero(world: World) -> None:
    caller = world.tenant(50)
    with pytest.raises(InsufficientTokens, match="taking 99,999 tokens would take the pool below zero: 50 available"):
        world.pool.grant(caller.tenant_id, -99999, "fat finger", "operator:test")
    assert world.repo.pool(caller.tenant_id).balance == 50  # before: -99,949, silently
    assert world.ledger_sum(caller) == 50
    world.tenants.set_status(caller.tenant_id, TenantStatus.SUSPENDED)  # a suspended tenant is adjusted too
    world.pool.grant(caller.tenant_id, -50, "all of it back", "operator:test")
    assert world.repo.pool(caller.tenant_id).balance == 0
    with pytest.raises(InsufficientTokens):
        world.pool.grant(caller.tenant_id, -1, "one more", "operator:test")
    assert world.ledger_sum(caller) == 0


def test_ledger_pages_carry_the_running_balance(world: World) -> None:
    caller = world.tenant(100)
    for n in range(5):
        world.pool.consume(caller, "build", 1, f"p{n}")
    first = world.pool.ledger(caller, None, 2)
    second = world.pool.ledger(caller, first.cursor, 2)
    third = world.pool.ledger(caller, second.cursor, 10)
    entries = first.entries + second.entries + third.entries
    assert [e.balance_after for e in entries] == [85, 88, 91, 94, 97, 100]
    assert third.cursor is None
    with pytest.raises(InvalidField):
        world.pool.ledger(caller, "garbage!", 2)


def test_balance_lists_lots_in_burn_order(world: World) -> None:
    caller = world.tenant()
    world.pool.grant(caller.tenant_id, 10, "later", "operator:test", valid_days=30)
    world.pool.grant(caller.tenant_id, 10, "sooner", "operator:test", valid_days=5)
    world.pool.grant(caller.tenant_id, 10, "never", "operator:test")
    world.pool.consume(caller, "build", 4, "x")  # 12 tokens: the 5-day lot first, then the 30-day one
    view = world.pool.balance(caller)
    assert view.pool.balance == 18
    assert [(v.lot.grant_reason, v.left) for v in view.lots] == [("sooner", 0), ("later", 8), ("never", 10)]
    assert view.pool.next_lot_expiry == NOW + 5 * 86400


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["credit", "debit", "adjust"]), st.integers(1, 40)), max_size=12))
def test_ledger_always_explains_the_balance(world: World, operations: list[tuple[str, int]]) -> None:
    caller = world.tenant()
    model = 0
    for n, (kind, amount) in enumerate(operations):
        if kind == "credit":
            world.pool.grant(caller.tenant_id, amount, "credit", "operator:test")
            model += amount
        elif kind == "adjust":
            try:
                world.pool.grant(caller.tenant_id, -amount, "adjust", "operator:test")
            except InsufficientTokens:
                assert model < amount  # an adjustment takes only what is available
            else:
                model -= amount
                assert model >= 0
        else:
            try:
                world.pool.consume(caller, "build", amount, f"op{n}")
            except InsufficientTokens:
                assert model < 3 * amount  # refused only when the pool could not cover it
            else:
                model -= 3 * amount
                assert model >= 0  # consumption never takes the pool below zero
        balance = world.repo.pool(caller.tenant_id).balance
        assert balance == model == world.ledger_sum(caller)
