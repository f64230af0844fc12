"""Leases stored with pynamodb transactions: the pool's reservation, the lease and its ledger entry together.

pynamodb sends a transaction's items as condition checks, deletes, puts, updates (in the order added within
each group); the cancellation reasons follow that order, which the ``_explain`` helpers rely on.
"""

from __future__ import annotations

import hashlib
import secrets

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from tollgate.domain.errors import InsufficientTokens, NotFound, ProjectBudgetExhausted, TenantSuspended
from tollgate.domain.leases import Lease, LeaseOpening, LeaseStatus
from tollgate.domain.models import LedgerEntry
from tollgate.domain.pool import LotsDue, Replayed, StoredAnswer
from tollgate.store import keys
from tollgate.store.errors import busy_as_store_busy, cancellation_codes, with_retries
from tollgate.store.models import IdempotencyItem, LeaseItem, LedgerEntryItem, ProjectItem, TenantItem
from tollgate.store.pool import DynamoPoolRepository, answer_item, ledger_item, project_commit, project_covers

_FAILED = "ConditionalCheckFailed"


def _token(*parts: str) -> str:
    return hashlib.sha256("|".join(("lease", *parts)).encode()).hexdigest()[:36]


def lease_item(lease: Lease) -> LeaseItem:
    item = LeaseItem(
        keys.tenant_pk(lease.tenant_id),
        keys.lease_sk(lease.id),
        lease_id=lease.id,
        feature=lease.feature,
        cost_per_hour=lease.cost_per_hour,
        started_at=lease.started_at,
        expires_at=lease.expires_at,
        duration_s=lease.duration_s,
        reserved=lease.reserved,
        status=lease.status.value,
        actor=lease.actor,
        project_id=lease.project_id,
        idempotency_key=lease.idempotency_key,
        ended_at=lease.ended_at,
        charged=lease.charged,
        charge_entry_id=lease.charge_entry_id,
    )
    if lease.status is LeaseStatus.OPEN:
        item.due_shard = keys.DUE_SHARD
        item.due_at = lease.expires_at
    return item


def to_lease(tenant_id: str, item: LeaseItem) -> Lease:
    return Lease(
        id=item.lease_id,
        tenant_id=tenant_id,
        feature=item.feature,
        cost_per_hour=int(item.cost_per_hour),
        started_at=int(item.started_at),
        expires_at=int(item.expires_at),
        duration_s=int(item.duration_s),
        reserved=int(item.reserved),
        status=LeaseStatus(item.status),
        actor=item.actor,
        project_id=item.project_id,
        idempotency_key=item.idempotency_key,
        ended_at=None if item.ended_at is None else int(item.ended_at),
        charged=None if item.charged is None else int(item.charged),
        charge_entry_id=item.charge_entry_id,
    )


def _can_reserve(amount: int, now: int) -> Condition:
    """The pool covers ``amount`` more of reservation now: active, enough available, no lot past its end."""
    return (
        (TenantItem.status == "active")
        & (TenantItem.available >= amount)
        & (TenantItem.next_lot_expiry.does_not_exist() | (TenantItem.next_lot_expiry > now))
    )


def _unchanged(lease: Lease) -> Condition:
    """The lease is still exactly as read: open, same end, same reservation (optimistic concurrency)."""
    return (
        (LeaseItem.status == LeaseStatus.OPEN.value)
        & (LeaseItem.expires_at == lease.expires_at)
        & (LeaseItem.reserved == lease.reserved)
    )


def _project(lease: Lease) -> ProjectItem:
    assert lease.project_id is not None
    return ProjectItem(keys.tenant_pk(lease.tenant_id), keys.project_sk(lease.project_id))


def _budget_exhausted(amount: int) -> ProjectBudgetExhausted:
    return ProjectBudgetExhausted(f"the project's budget does not cover {amount} more tokens")


class DynamoLeaseRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=TenantItem.Meta.region, host=TenantItem.Meta.host)
        self._pools = DynamoPoolRepository()

    def open(self, opening: LeaseOpening) -> None:
        lease = opening.lease
        tenant = TenantItem(keys.tenant_pk(lease.tenant_id), keys.TENANT_SK)
        answer = answer_item(
            lease.tenant_id, opening.idempotency_scope, opening.idempotency_key, opening.answer, opening.now
        )

        def write() -> None:
            with TransactWrite(connection=self._connection, client_request_token=_token("open", lease.id)) as tx:
                tx.save(lease_item(lease), condition=LeaseItem.pk.does_not_exist())
                tx.save(answer, condition=IdempotencyItem.pk.does_not_exist())
                tx.update(
                    tenant,
                    actions=[TenantItem.reserved.add(lease.reserved), TenantItem.available.add(-lease.reserved)],
                    condition=_can_reserve(lease.reserved, opening.now),
                    return_values="ALL_OLD",
                )
                if lease.project_id is not None:
                    tx.update(
                        _project(lease),
                        actions=project_commit(lease.reserved),
                        condition=project_covers(lease.reserved),
                    )

        try:
            with_retries(write)
        except TransactWriteError as exc:
            # [lease, answer, tenant, project?]
            codes = cancellation_codes(exc) + [None] * 4
            if codes[1] == _FAILED:
                stored = self.stored_answer(lease.tenant_id, opening.idempotency_scope, opening.idempotency_key)
                if stored is not None:
                    raise Replayed(stored) from exc
            if codes[2] == _FAILED:
                self._explain_pool(exc, 2, lease.reserved, opening.now)
            if codes[3] == _FAILED:
                raise _budget_exhausted(lease.reserved) from exc
            raise

    @staticmethod
    def _explain_pool(exc: TransactWriteError, index: int, amount: int, now: int) -> None:
        reason = exc.cancellation_reasons[index]
        old = (reason.raw_item if reason is not None else None) or {}
        if old.get("status", {}).get("S") != "active":
            raise TenantSuspended("this tenant is suspended; no tokens can be reserved") from exc
        due = old.get("next_lot_expiry", {}).get("N")
        if due is not None and int(due) <= now:
            raise LotsDue() from exc
        raise InsufficientTokens(
            f"this lease needs {amount} tokens reserved; "
            f"the pool has {old.get('available', {}).get('N', '0')} available"
        ) from exc

    def get(self, tenant_id: str, lease_id: str) -> Lease:
        try:
            with busy_as_store_busy():
                item = LeaseItem.get(keys.tenant_pk(tenant_id), keys.lease_sk(lease_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no lease {lease_id}") from exc
        return to_lease(tenant_id, item)

    def extend(self, lease: Lease, new_end: int, extra: int, now: int) -> bool:
        item = LeaseItem(keys.tenant_pk(lease.tenant_id), keys.lease_sk(lease.id))
        tenant = TenantItem(keys.tenant_pk(lease.tenant_id), keys.TENANT_SK)
        token = _token("extend", lease.id, secrets.token_hex(8))  # one per call; reused by its retries

        def write() -> None:
            with TransactWrite(connection=self._connection, client_request_token=token) as tx:
                tx.update(
                    item,
                    actions=[
                        LeaseItem.expires_at.set(new_end),
                        LeaseItem.due_at.set(new_end),
                        LeaseItem.reserved.add(extra),
                    ],
                    condition=_unchanged(lease) & (LeaseItem.expires_at > now),
                )
                if extra > 0:
                    tx.update(
                        tenant,
                        actions=[TenantItem.reserved.add(extra), TenantItem.available.add(-extra)],
                        condition=_can_reserve(extra, now),
                        return_values="ALL_OLD",
                    )
                    if lease.project_id is not None:
                        tx.update(_project(lease), actions=project_commit(extra), condition=project_covers(extra))

        try:
            with_retries(write)
        except TransactWriteError as exc:
            # [lease, tenant?, project?]
            codes = cancellation_codes(exc) + [None] * 3
            if codes[0] == _FAILED:
                return False
            if codes[1] == _FAILED:
                self._explain_pool(exc, 1, extra, now)
            if codes[2] == _FAILED:
                raise _budget_exhausted(extra) from exc
            raise
        return True

    def settle(self, lease: Lease, result: Lease, entry: LedgerEntry) -> bool:
        charge, ended_at, entry_id = result.charged, result.ended_at, result.charge_entry_id
        assert charge is not None
        assert ended_at is not None
        assert entry_id is not None
        released = lease.reserved
        item = LeaseItem(keys.tenant_pk(lease.tenant_id), keys.lease_sk(lease.id))
        tenant = TenantItem(keys.tenant_pk(lease.tenant_id), keys.TENANT_SK)

        def write() -> None:
            with TransactWrite(connection=self._connection, client_request_token=_token("settle", entry.id)) as tx:
                tx.save(ledger_item(entry), condition=LedgerEntryItem.pk.does_not_exist())
                tx.update(
                    item,
                    actions=[
                        LeaseItem.status.set(result.status.value),
                        LeaseItem.ended_at.set(ended_at),
                        LeaseItem.charged.set(charge),
                        LeaseItem.charge_entry_id.set(entry_id),
                        LeaseItem.due_shard.remove(),
                        LeaseItem.due_at.remove(),
                    ],
                    condition=_unchanged(lease),
                )
                # no condition on the pool beyond its existence: a suspended tenant's leases settle too
                tx.update(
                    tenant,
                    actions=[
                        TenantItem.balance.add(-charge),
                        TenantItem.reserved.add(-released),
                        TenantItem.available.add(released - charge),
                    ],
                    condition=TenantItem.pk.exists(),
                )
                if lease.project_id is not None:  # the charge is spent; the rest of the hold goes back
                    tx.update(
                        _project(lease),
                        actions=[ProjectItem.spent.add(charge), *project_commit(charge - released)],
                        condition=ProjectItem.pk.exists(),
                    )

        try:
            with_retries(write)
        except TransactWriteError as exc:
            # [ledger entry, lease, tenant, project?]
            codes = cancellation_codes(exc) + [None] * 3
            if codes[1] == _FAILED:
                return False
            if codes[2] == _FAILED:
                raise NotFound(f"no tenant {lease.tenant_id}") from exc
            raise
        return True

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        return self._pools.stored_answer(tenant_id, scope, key)
