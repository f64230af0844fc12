"""The pool kernel (moto, one thread): labelled items, available kept by construction, the audit, and
idempotent operator grants."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from infra.audit.books import DynamoBooks
from infra.audit.rules import audit_tenant
from tests.unit.leasing import COST_PER_HOUR, HOUR, NOW, LeaseWorld
from tollgate.core.errors import Forbidden, IdempotencyKeyReused, InvalidField, NotFound, TenantSuspended
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import EntryKind, LedgerEntry, LicenseKey, Principal, TenantStatus
from tollgate.kernel import keys
from tollgate.kernel.deltas import BudgetDelta
from tollgate.kernel.items import ApiKeyItem, LeaseItem, ProjectItem, TenantItem
from tollgate.kernel.pool import PoolTransaction, ReasonsMismatch, Refused


@pytest.fixture
def world(table: str) -> LeaseWorld:
    return LeaseWorld()


def audit(caller: Principal) -> list[str]:
    return audit_tenant(DynamoBooks().books(caller.tenant_id))


def debit_entry(tenant_id: str, amount: int, entry_id: str = "le_kernel_test") -> LedgerEntry:
    return LedgerEntry(entry_id, tenant_id, EntryKind.CONSUMPTION, -amount, NOW, "test")


def marker(tenant_id: str) -> ApiKeyItem:
    """An item of the caller's (not one the kernel owns) to put beside the kernel's own."""
    return ApiKeyItem(
        keys.tenant_pk(tenant_id),
        keys.api_key_sk("ak_00000000000000mk"),
        key_id="ak_mk",
        name="marker",
        role="owner",
        display="x",
        secret_hash="h",
        created_at=NOW,
        created_by="test",
    )


def test_items_are_sent_in_the_order_they_were_added(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    tx = PoolTransaction(caller.tenant_id, "t-order-sent")
    tx.debit(5, now=NOW).entry(debit_entry(caller.tenant_id, 5))
    tx.put("marker", marker(caller.tenant_id), ApiKeyItem.pk.does_not_exist())
    absent = keys.lease_sk("lease_0000000000000000")
    tx.check("missing_lease", LeaseItem, keys.tenant_pk(caller.tenant_id), absent, LeaseItem.pk.exists())
    tx.delete("absent_key", marker(caller.tenant_id), ApiKeyItem.pk.exists())
    assert tx.labels() == ["pool", "entry", "marker", "missing_lease", "absent_key"]
    operations = [next(iter(item)) for item in tx.request()["TransactItems"]]
    assert operations == ["Update", "Put", "Put", "ConditionCheck", "Delete"]  # not pynamodb's grouping


def test_a_refusal_names_the_failed_item_whatever_order_items_were_added(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    tx = PoolTransaction(caller.tenant_id, "t-order")
    tx.debit(5, now=NOW).entry(debit_entry(caller.tenant_id, 5))
    tx.put("marker", marker(caller.tenant_id), ApiKeyItem.pk.does_not_exist())
    absent = keys.lease_sk("lease_0000000000000000")
    tx.check("missing_lease", LeaseItem, keys.tenant_pk(caller.tenant_id), absent, LeaseItem.pk.exists())
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert set(refused.value.failed) == {"missing_lease"}
    assert world.repo.pool(caller.tenant_id).balance == 10  # nothing changed


def test_a_refused_delete_is_named_wherever_it_stands(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    tx = PoolTransaction(caller.tenant_id, "t-delete-order")
    tx.debit(5, now=NOW).entry(debit_entry(caller.tenant_id, 5))
    tx.delete("absent_key", marker(caller.tenant_id), ApiKeyItem.pk.exists())
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert set(refused.value.failed) == {"absent_key"}
    assert world.repo.pool(caller.tenant_id).balance == 10


def cancelled(reasons: list[CancellationReason | None]) -> TransactWriteError:
    error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
    cause = VerboseClientError(error, "TransactWriteItems", cancellation_reasons=reasons)
    return TransactWriteError("Failed to write transaction items", cause)


def test_reasons_that_do_not_line_up_with_the_items_fail_loudly(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    tx = PoolTransaction(caller.tenant_id, "t-strict")
    tx.debit(5, now=NOW).entry(debit_entry(caller.tenant_id, 5))
    failed = CancellationReason(code="ConditionalCheckFailed")
    assert tx.failures(cancelled([failed, None])) == {"pool": {}}  # one reason per item: matched
    for wrong in ([failed], [None, failed, None], []):
        with pytest.raises(ReasonsMismatch, match=f"{len(wrong)} cancellation reasons for 2 items"):
            tx.failures(cancelled(wrong))


def test_a_cancellation_with_too_few_reasons_from_dynamodb_raises_mismatch(
    world: LeaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tollgate.kernel import connection

    caller = world.tenant(3)
    real = connection.shared_connection().dispatch

    def truncated(operation: str, request: dict[str, Any]) -> Any:
        try:
            return real(operation, request)
        except VerboseClientError as exc:
            first = exc.cancellation_reasons[:1]
            raise VerboseClientError(exc.response, operation, cancellation_reasons=first) from exc

    monkeypatch.setattr(connection.shared_connection(), "dispatch", truncated)
    tx = PoolTransaction(caller.tenant_id, "t-truncated")
    tx.entry(debit_entry(caller.tenant_id, 5)).debit(5, now=NOW)  # the pool refuses, second of two
    with pytest.raises(ReasonsMismatch):
        tx.commit()
    assert world.repo.pool(caller.tenant_id).balance == 3


def test_pool_refusal_carries_the_old_pool(world: LeaseWorld) -> None:
    caller = world.tenant(3)
    tx = PoolTransaction(caller.tenant_id, "t-cover")
    tx.debit(5, now=NOW).entry(debit_entry(caller.tenant_id, 5))
    with pytest.raises(Refused) as refused:
        tx.commit()
    assert refused.value.failed["pool"]["available"] == {"N": "3"}


def test_money_moves_only_with_its_ledger_entry(world: LeaseWorld) -> None:
    caller = world.tenant(10)
    with pytest.raises(ValueError, match="ledger entry"):
        PoolTransaction(caller.tenant_id, "t-no-entry").debit(5, now=NOW).commit()
    tx = PoolTransaction(caller.tenant_id, "t-wrong-entry").debit(5, now=NOW).entry(debit_entry(caller.tenant_id, 4))
    with pytest.raises(ValueError, match="sum to what it does to the balance"):
        tx.commit()
    assert world.repo.pool(caller.tenant_id).balance == 10


def test_the_kernel_computes_the_hold_and_available(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    _, lease = world.leases.open(caller, "build", 3 * HOUR, "l1")
    item = TenantItem.get(keys.tenant_pk(caller.tenant_id), keys.TENANT_SK, consistent_read=True)
    assert (int(item.balance), int(item.reserved), int(item.available)) == (100, 30, 70)
    stored = LeaseItem.get(keys.tenant_pk(caller.tenant_id), keys.lease_sk(lease.id), consistent_read=True)
    assert int(stored.reserved) == 3 * COST_PER_HOUR
    world.clock.advance(HOUR // 2)
    world.leases.close(caller, lease.id)
    item = TenantItem.get(keys.tenant_pk(caller.tenant_id), keys.TENANT_SK, consistent_read=True)
    assert (int(item.balance), int(item.reserved), int(item.available)) == (90, 0, 90)
    stored = LeaseItem.get(keys.tenant_pk(caller.tenant_id), keys.lease_sk(lease.id), consistent_read=True)
    assert (int(stored.reserved), int(stored.charged)) == (30, 10)  # the record keeps what it reserved
    assert audit(caller) == []


def test_a_settlement_never_charges_more_than_the_hold(world: LeaseWorld) -> None:
    caller = world.tenant(100)
    row = LeaseItem(keys.tenant_pk(caller.tenant_id), keys.lease_sk("lease_0000000000000000"))
    tx = PoolTransaction(caller.tenant_id, "t")
    with pytest.raises(ValueError, match=r"charges 0\.\.5"):
        tx.settle_hold("lease", row, held=5, used=6, condition=LeaseItem.pk.exists())


def test_labels_must_be_unique(world: LeaseWorld) -> None:
    caller = world.tenant(1)
    tx = PoolTransaction(caller.tenant_id, "t-dup").credit(1).credit(1)
    with pytest.raises(ValueError, match="own label"):
        tx.commit()


def test_budget_delta_keeps_budget_left(world: LeaseWorld) -> None:
    assert BudgetDelta().actions(ProjectItem) == []
    assert len(BudgetDelta(committed=5, spent=5).actions(ProjectItem)) == 3


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
    with pytest.raises(Forbidden):  # the spending pipeline's step 1; reading a balance is the route's gate's
        world.pool.consume(nobody, "build", 1, "k")


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


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DynamoDB operations sent, by name."""
    import botocore.client

    real = botocore.client.BaseClient._make_api_call
    operations: list[str] = []

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        operations.append(operation)
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return operations


def test_a_budget_change_is_one_kernel_transaction(world: LeaseWorld, sent: list[str]) -> None:
    from tollgate.tenancy.service_projects import ProjectService
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    owner = world.tenant(100)
    projects = ProjectService(DynamoProjectRepository(), world.clock, RANDOM_IDS)
    project = projects.create(owner, "ci", budget=35)
    key = LicenseKey("lk_p", owner.tenant_id, "k", "d", "h", ("eu-west-1",), NOW, project_id=project.id)
    world.leases.open(Principal(tenant=owner.tenant, key_id=key.id, license_key=key), "build", 3 * HOUR, "a")
    sent.clear()
    raised = projects.update(owner, project.id, "renamed", 50)
    assert sent.count("TransactWriteItems") == 1 and "UpdateItem" not in sent and "PutItem" not in sent
    assert (raised.name, raised.budget, raised.committed) == ("renamed", 50, 3 * COST_PER_HOUR)
    stored = ProjectItem.get(keys.tenant_pk(owner.tenant_id), keys.project_sk(project.id), consistent_read=True)
    assert int(stored.budget_left) == 50 - 3 * COST_PER_HOUR  # what the lease holds stays counted
    projects.update(owner, project.id, None, None)  # no budget: nothing left to count
    stored = ProjectItem.get(keys.tenant_pk(owner.tenant_id), keys.project_sk(project.id), consistent_read=True)
    assert (stored.budget, stored.budget_left) == (None, None)
    assert audit(owner) == []


def test_signup_and_status_go_through_the_kernel(world: LeaseWorld, sent: list[str]) -> None:
    caller = world.tenant(10)
    assert "TransactWriteItems" in sent and "PutItem" not in sent  # the pool item came with the owner key
    sent.clear()
    world.tenants.set_status(caller.tenant_id, TenantStatus.SUSPENDED)
    assert sent.count("TransactWriteItems") == 1 and "UpdateItem" not in sent
    with pytest.raises(TenantSuspended):
        world.pool.consume(world.license(caller), "build", 1, "c1")
    world.tenants.set_status(caller.tenant_id, TenantStatus.ACTIVE)
    with pytest.raises(NotFound):
        world.tenants.set_status("tn_0000000000000000", TenantStatus.ACTIVE)
