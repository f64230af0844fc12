"""The pool kernel (moto, one thread): labelled items, available kept by construction, the audit, and
idempotent operator grants."""

from __future__ import annotations

import pytest

from infra.audit.books import DynamoBooks
from infra.audit.rules import audit_tenant
from tests.unit.leasing import COST_PER_HOUR, HOUR, NOW, LeaseWorld
from tollgate.core.errors import Forbidden, IdempotencyKeyReused, InvalidField
from tollgate.core.models import LicenseKey, Principal
from tollgate.kernel import keys
from tollgate.kernel.items import LeaseItem, ProjectItem, TenantItem
from tollgate.kernel.pool import BudgetDelta, PoolDelta, PoolTransaction, Refused


@pytest.fixture
def world(table: str) -> LeaseWorld:
    return LeaseWorld()


def audit(caller: Principal) -> list[str]:
    return audit_tenant(DynamoBooks().books(caller.tenant_id))


def test_a_refusal_names_the_failed_item_whatever_order_items_were_added(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    tx = PoolTransaction(caller.tenant_id, "t-order")
    tx.pool(PoolDelta(balance=-5, active=True, covers=5))  # an update, added first: sent last
    marker_id = "pj_00000000000000mk"
    marker = ProjectItem(keys.tenant_pk(caller.tenant_id), keys.project_sk(marker_id), project_id=marker_id)
    marker.name, marker.created_at = "marker", NOW
    tx.put("marker", marker, ProjectItem.pk.does_not_exist())
    tx.check(
        "missing_lease",
        LeaseItem,
        keys.tenant_pk(caller.tenant_id),
        keys.lease_sk("lease_0000000000000000"),
        LeaseItem.pk.exists(),
    )
    assert tx.labels() == ["missing_lease", "marker", "pool"]
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert set(refused.value.failed) == {"missing_lease"}
    assert world.repo.pool(caller.tenant_id).balance == 10  # nothing changed


def test_a_refused_delete_is_named_though_pynamodb_sends_deletes_before_puts_and_updates(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    tx = PoolTransaction(caller.tenant_id, "t-delete-order")
    tx.pool(PoolDelta(balance=-5, active=True, covers=5))  # an update: sent last
    marker_id = "pj_00000000000000mk"
    marker = ProjectItem(keys.tenant_pk(caller.tenant_id), keys.project_sk(marker_id), project_id=marker_id)
    marker.name, marker.created_at = "marker", NOW
    tx.put("marker", marker, ProjectItem.pk.does_not_exist())
    absent = LeaseItem(keys.tenant_pk(caller.tenant_id), keys.lease_sk("lease_0000000000000000"))
    tx.delete("absent_lease", absent, LeaseItem.pk.exists())  # added last, sent second
    assert tx.labels() == ["absent_lease", "marker", "pool"]
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert set(refused.value.failed) == {"absent_lease"}
    assert world.repo.pool(caller.tenant_id).balance == 10


def test_pool_refusal_carries_the_old_pool(world: LeaseWorld) -> None:
    caller = world.tenant(3)
    tx = PoolTransaction(caller.tenant_id, "t-cover")
    tx.pool(PoolDelta(balance=-5, active=True, covers=5))
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert refused.value.failed["pool"]["available"] == {"N": "3"}


def test_available_follows_balance_and_reserved(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    PoolTransaction(caller.tenant_id, "t-hold").pool(PoolDelta(reserved=30)).commit()
    PoolTransaction(caller.tenant_id, "t-spend").pool(PoolDelta(balance=-20, reserved=-30)).commit()
    item = TenantItem.get(keys.tenant_pk(caller.tenant_id), keys.TENANT_SK, consistent_read=True)
    assert (int(item.balance), int(item.reserved), int(item.available)) == (80, 0, 80)


def test_labels_must_be_unique(world: LeaseWorld) -> None:
    caller = world.tenant(1)
    tx = PoolTransaction(caller.tenant_id, "t-dup").pool(PoolDelta(balance=1)).pool(PoolDelta(balance=1))
    with pytest.raises(ValueError, match="own label"):
        tx.commit()


def test_budget_delta_keeps_budget_left(world: LeaseWorld) -> None:
    assert BudgetDelta("pj_x").actions() == []
    assert len(BudgetDelta("pj_x", committed=5, spent=5).actions()) == 3


def test_audit_is_clean_after_consumes_leases_expiry_and_grants(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    world.pool.grant(caller.tenant_id, 50, "trial", "operator:test", valid_days=1)
    world.pool.consume(caller, "build", 2, "c1")
    _, lease = world.leases.open(caller, "build", HOUR, "l1")
    _, other = world.leases.open(caller, "build", 2 * HOUR, "l2")
    world.leases.close(caller, lease.id)
    assert audit(caller) == []
    world.clock.advance(2 * 86400)
    world.sweeper.sweep()
    assert audit(caller) == []
    assert world.repo.pool(caller.tenant_id).reserved == 0 and other.reserved == 2 * COST_PER_HOUR


def test_audit_finds_a_balance_the_ledger_does_not_explain(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    TenantItem(keys.tenant_pk(caller.tenant_id), keys.TENANT_SK).update(actions=[TenantItem.balance.add(7)])
    found = audit(caller)
    assert any("ledger sums to 100 but the balance is 107" in text for text in found)
    assert any("available is 100, not balance − reserved = 107" in text for text in found)


def test_audit_finds_a_reservation_no_hold_explains(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    world.leases.open(caller, "build", HOUR, "l1")
    TenantItem(keys.tenant_pk(caller.tenant_id), keys.TENANT_SK).update(
        actions=[TenantItem.reserved.add(1), TenantItem.available.add(-1)]
    )
    assert any(f"reserved is {COST_PER_HOUR + 1} but open holds sum to {COST_PER_HOUR}" in t for t in audit(caller))


def test_grant_with_an_idempotency_key_credits_once(world: LeaseWorld) -> None:
    caller = world.tenant()
    first = world.pool.grant(caller.tenant_id, 40, "support credit", "operator:a", 30, "op-key-1")
    world.clock.advance(60)
    again = world.pool.grant(caller.tenant_id, 40, "support credit", "operator:a", 30, "op-key-1")
    assert (again.id, again.created_at, again.lot_id) == (first.id, first.created_at, first.lot_id)
    assert world.repo.pool(caller.tenant_id).balance == 40
    assert len(world.repo.lots(caller.tenant_id)) == 1
    with pytest.raises(IdempotencyKeyReused):
        world.pool.grant(caller.tenant_id, 41, "support credit", "operator:a", 30, "op-key-1")
    assert audit(caller) == []


@pytest.mark.parametrize(
    ("tokens", "valid_days", "field"),
    [(10**15 + 1, None, "tokens"), (10, 3651, "valid_days"), (10, 3_000_000, "valid_days"), (0, None, "tokens")],
)
def test_grant_bounds(world: LeaseWorld, tokens: int, valid_days: int | None, field: str) -> None:
    caller = world.tenant()
    with pytest.raises(InvalidField) as refused:
        world.pool.grant(caller.tenant_id, tokens, "x", "operator:a", valid_days)
    assert refused.value.field == field
    assert world.repo.pool(caller.tenant_id).balance == 0


def test_only_the_opening_key_or_an_admin_keeps_a_lease(world: LeaseWorld) -> None:
    owner = world.tenant(100)
    opener = world.license(owner)
    other_key = LicenseKey("lk_other", owner.tenant_id, "k2", "d", "h", ("eu-west-1",), NOW)
    other = Principal(tenant=owner.tenant, key_id=other_key.id, license_key=other_key)
    _, lease = world.leases.open(opener, "build", HOUR, "l1")
    with pytest.raises(Forbidden):
        world.leases.heartbeat(other, lease.id)
    with pytest.raises(Forbidden):
        world.leases.close(other, lease.id)
    assert world.leases.heartbeat(opener, lease.id).status.value == "open"
    assert world.leases.close(owner, lease.id).status.value == "closed"  # the owner API key may
    assert audit(owner) == []


def test_a_principal_without_role_or_license_key_is_refused(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    nobody = Principal(tenant=caller.tenant, key_id="ak_x")
    with pytest.raises(Forbidden):
        world.pool.consume(nobody, "build", 1, "k")
    with pytest.raises(Forbidden):
        world.pool.balance(nobody)


def test_authorize_answers_for_every_principal_kind(world: LeaseWorld) -> None:
    from tollgate.core.roles import Permission, Role, authorize

    caller = world.tenant()
    licensed = world.license(caller)
    nobody = Principal(tenant=caller.tenant, key_id="ak_x")
    auditor = Principal(tenant=caller.tenant, key_id="ak_y", role=Role.AUDITOR)
    authorize(licensed, Permission.CONSUME)
    authorize(auditor, Permission.READ_PURCHASES)
    for principal, permission in (
        (licensed, Permission.BUY),
        (licensed, Permission.READ_PURCHASES),
        (nobody, Permission.READ_PURCHASES),
        (nobody, Permission.CONSUME),
        (auditor, Permission.BUY),
    ):
        with pytest.raises(Forbidden):
            authorize(principal, permission)
