"""Converting between domain records and stored items: ledger entries, lots, idempotent answers and events."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from tollgate.core.events import RETENTION_S, Event
from tollgate.core.idempotency import StoredAnswer
from tollgate.core.models import EntryKind, LedgerEntry, Lot
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import EventItem, IdempotencyItem, LedgerEntryItem, LotItem

PURGE_AFTER_S = 7 * 86400  # idempotent answers are honoured 24 h; DynamoDB TTL removes them later


def answer_item(tenant_id: str, scope: str, key: str, answer: StoredAnswer, now: int) -> IdempotencyItem:
    """The stored first answer to an Idempotency-Key, written in the transaction of the change it answers."""
    return IdempotencyItem(
        keys.tenant_pk(tenant_id),
        keys.idempotency_sk(scope, key),
        request_hash=answer.request_hash,
        status_code=answer.status_code,
        response=answer.body,
        created_at=answer.created_at,
        purge_at=now + PURGE_AFTER_S,
    )


def ledger_item(entry: LedgerEntry) -> LedgerEntryItem:
    return LedgerEntryItem(
        keys.ledger_pk(entry.tenant_id),
        keys.ledger_sk(entry.created_at, entry.id),
        entry_id=entry.id,
        kind=entry.kind.value,
        amount=entry.amount,
        created_at=entry.created_at,
        actor=entry.actor,
        reason=entry.reason,
        feature=entry.feature,
        quantity=entry.quantity,
        project_id=entry.project_id,
        idempotency_key=entry.idempotency_key,
        purchase_id=entry.purchase_id,
        lot_id=entry.lot_id,
        lease_id=entry.lease_id,
        allowance_id=entry.allowance_id,
        key_id=entry.key_id,
        action_id=entry.action_id,
    )


def to_entry(tenant_id: str, item: LedgerEntryItem, balance_after: int | None) -> LedgerEntry:
    return LedgerEntry(
        id=item.entry_id,
        tenant_id=tenant_id,
        kind=EntryKind(item.kind),
        amount=int(item.amount),
        created_at=int(item.created_at),
        actor=item.actor,
        reason=item.reason,
        feature=item.feature,
        quantity=None if item.quantity is None else int(item.quantity),
        project_id=item.project_id,
        idempotency_key=item.idempotency_key,
        purchase_id=item.purchase_id,
        lot_id=item.lot_id,
        lease_id=item.lease_id,
        allowance_id=item.allowance_id,
        action_id=item.action_id,
        balance_after=balance_after,
        key_id=item.key_id,
    )


def lot_item(lot: Lot) -> LotItem:
    item = LotItem(
        keys.tenant_pk(lot.tenant_id),
        keys.lot_sk(lot.id),
        lot_id=lot.id,
        tokens=lot.tokens,
        remaining=lot.remaining,
        created_at=lot.created_at,
        expires_at=lot.expires_at,
        purchase_id=lot.purchase_id,
        grant_reason=lot.grant_reason,
        expired=lot.expired,
        expired_tokens=lot.expired_tokens,
        lot_kind=lot.kind,
    )
    if lot.expires_at is not None and not lot.expired:
        item.due_shard = keys.DUE_SHARD
        item.due_at = lot.expires_at
    return item


def to_lot(tenant_id: str, item: LotItem) -> Lot:
    return Lot(
        id=item.lot_id,
        tenant_id=tenant_id,
        tokens=int(item.tokens),
        remaining=int(item.remaining),
        created_at=int(item.created_at),
        expires_at=None if item.expires_at is None else int(item.expires_at),
        purchase_id=item.purchase_id,
        grant_reason=item.grant_reason,
        expired=bool(item.expired),
        expired_tokens=None if item.expired_tokens is None else int(item.expired_tokens),
        kind=item.lot_kind,
    )


def event_item(event: Event) -> EventItem:
    return EventItem(
        keys.events_pk(event.tenant_id),
        keys.event_sk(event.at, event.id),
        event_id=event.id,
        type=event.type,
        at=event.at,
        data=event.data,
        purge_at=event.at + RETENTION_S,
    )


def stored_answer(tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
    """The first answer given to an Idempotency-Key of ``scope``, or None (read consistently)."""
    try:
        with busy_as_store_busy():
            item = IdempotencyItem.get(keys.tenant_pk(tenant_id), keys.idempotency_sk(scope, key), consistent_read=True)
    except DoesNotExist:
        return None
    return StoredAnswer(item.request_hash, int(item.status_code), dict(item.response), int(item.created_at))
