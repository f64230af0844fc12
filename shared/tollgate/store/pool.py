"""The token pool, its ledger and lots, and idempotent answers, stored with pynamodb transactions."""

from __future__ import annotations

import base64
import hashlib
import json

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from tollgate.domain.errors import (
    InsufficientTokens,
    InvalidField,
    NotFound,
    ProjectBudgetExhausted,
    StoreBusy,
    TenantSuspended,
    Unauthenticated,
)
from tollgate.domain.models import EntryKind, LedgerEntry, Lot, Pool
from tollgate.domain.pool import Credit, Debit, LedgerPage, LotsDue, Replayed, StoredAnswer
from tollgate.store import keys
from tollgate.store.errors import busy_as_store_busy, cancellation_codes, with_retries
from tollgate.store.models import IdempotencyItem, LedgerEntryItem, LicenseKeyItem, LotItem, ProjectItem, TenantItem

PURGE_AFTER_S = 7 * 86400  # idempotent answers are honoured 24 h; DynamoDB TTL removes them later


def credit_update(amount: int, lot: Lot | None, current_next_expiry: int | None) -> tuple[list[Action], Condition]:
    """The pool side of a credit: balance and available up by ``amount``; when the new lot ends sooner than
    every live lot, it becomes ``next_lot_expiry``. Conditioned on the end read (``current_next_expiry``)
    being still in place, so two concurrent credits cannot leave a later end standing."""
    actions: list[Action] = [TenantItem.balance.add(amount), TenantItem.available.add(amount)]
    condition = TenantItem.pk.exists()
    if lot is not None and lot.expires_at is not None:
        if current_next_expiry is None:
            condition &= TenantItem.next_lot_expiry.does_not_exist()
        else:
            condition &= TenantItem.next_lot_expiry == current_next_expiry
        if current_next_expiry is None or lot.expires_at < current_next_expiry:
            actions.append(TenantItem.next_lot_expiry.set(lot.expires_at))
    return actions, condition


def project_commit(amount: int) -> list[Action]:
    """Commit ``amount`` more of a project's budget (negative: give some back)."""
    return [ProjectItem.committed.add(amount), ProjectItem.budget_left.set((ProjectItem.budget_left | 0) - amount)]


def project_covers(amount: int) -> Condition:
    """The project exists and has no budget, or ``amount`` left of it."""
    return ProjectItem.pk.exists() & (ProjectItem.budget.does_not_exist() | (ProjectItem.budget_left >= amount))


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
        balance_after=balance_after,
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
    )


def _token(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:36]


class DynamoPoolRepository:
    def __init__(self) -> None:
        self._connection = Connection(region=TenantItem.Meta.region, host=TenantItem.Meta.host)

    def debit(self, debit: Debit) -> None:
        tenant = TenantItem(keys.tenant_pk(debit.tenant_id), keys.TENANT_SK)
        project = None
        if debit.project_id is not None:
            project = ProjectItem(keys.tenant_pk(debit.tenant_id), keys.project_sk(debit.project_id))
        answer = answer_item(debit.tenant_id, debit.idempotency_scope, debit.idempotency_key, debit.answer, debit.now)

        def write() -> None:
            with TransactWrite(connection=self._connection, client_request_token=_token(debit.entry.id)) as tx:
                if debit.license_key_check is not None:
                    key_id, secret_hash = debit.license_key_check
                    tx.condition_check(
                        LicenseKeyItem,
                        keys.tenant_pk(debit.tenant_id),
                        keys.license_key_sk(key_id),
                        condition=(LicenseKeyItem.secret_hash == secret_hash)
                        & LicenseKeyItem.revoked_at.does_not_exist(),
                    )
                tx.update(
                    tenant,
                    actions=[TenantItem.balance.add(-debit.amount), TenantItem.available.add(-debit.amount)],
                    condition=(TenantItem.status == "active")
                    & (TenantItem.available >= debit.amount)
                    & (TenantItem.next_lot_expiry.does_not_exist() | (TenantItem.next_lot_expiry > debit.now)),
                    return_values="ALL_OLD",
                )
                if project is not None:
                    tx.update(
                        project,
                        actions=[
                            ProjectItem.spent.add(debit.amount),
                            *project_commit(debit.amount),
                        ],
                        condition=project_covers(debit.amount),
                    )
                tx.save(ledger_item(debit.entry), condition=LedgerEntryItem.pk.does_not_exist())
                tx.save(answer, condition=IdempotencyItem.pk.does_not_exist())

        try:
            with_retries(write)
        except TransactWriteError as exc:
            self._explain(exc, debit, project is not None)
            raise

    def _explain(self, exc: TransactWriteError, debit: Debit, has_project: bool) -> None:
        # pynamodb sends condition checks, then puts, then updates: [key check?, ledger entry, answer, tenant,
        # project?]; without the key check everything moves up one
        codes = cancellation_codes(exc)
        if debit.license_key_check is not None:
            if codes and codes[0] == "ConditionalCheckFailed":
                raise Unauthenticated("this license key was revoked or rotated") from exc
            codes, reasons = codes[1:], exc.cancellation_reasons[1:]
        else:
            reasons = list(exc.cancellation_reasons)
        codes += [None] * 4
        if codes[1] == "ConditionalCheckFailed":
            stored = self.stored_answer(debit.tenant_id, debit.idempotency_scope, debit.idempotency_key)
            if stored is not None:
                raise Replayed(stored) from exc
        if codes[2] == "ConditionalCheckFailed":
            reason = reasons[2]
            old = (reason.raw_item if reason is not None else None) or {}
            if old.get("status", {}).get("S") != "active":
                raise TenantSuspended("this tenant is suspended; no tokens can be consumed") from exc
            due = old.get("next_lot_expiry", {}).get("N")
            if due is not None and int(due) <= debit.now:
                raise LotsDue() from exc
            raise InsufficientTokens(
                f"this needs {debit.amount} tokens; the pool has {old.get('available', {}).get('N', '0')} available"
            ) from exc
        if has_project and codes[3] == "ConditionalCheckFailed":
            raise ProjectBudgetExhausted(f"the project's budget does not cover {debit.amount} tokens") from exc

    def credit(self, credit: Credit) -> None:
        for _ in range(5):
            if self._try_credit(credit):
                return
        raise StoreBusy()

    def _try_credit(self, credit: Credit) -> bool:
        """False when the pool's soonest lot end moved under us; the caller reads again and retries."""
        tenant = TenantItem(keys.tenant_pk(credit.tenant_id), keys.TENANT_SK)
        lot = credit.lot
        current = self.pool(credit.tenant_id).next_lot_expiry if lot is not None and lot.expires_at else None
        actions, condition = credit_update(credit.entry.amount, lot, current)

        def write() -> None:
            with TransactWrite(connection=self._connection, client_request_token=_token(credit.entry.id)) as tx:
                tx.update(tenant, actions=actions, condition=condition)
                tx.save(ledger_item(credit.entry), condition=LedgerEntryItem.pk.does_not_exist())
                if lot is not None:
                    tx.save(lot_item(lot), condition=LotItem.pk.does_not_exist())

        try:
            with_retries(write)
        except TransactWriteError as exc:
            # pynamodb sends puts before updates: [ledger entry, lot?, tenant]
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return True  # this entry was written before: a credit is applied once
            if codes and codes[-1] == "ConditionalCheckFailed":
                if lot is not None and lot.expires_at is not None:
                    self.pool(credit.tenant_id)  # NotFound if the tenant is gone; else the end moved
                    return False
                raise NotFound(f"no tenant {credit.tenant_id}") from exc
            raise
        return True

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        try:
            with busy_as_store_busy():
                item = IdempotencyItem.get(
                    keys.tenant_pk(tenant_id), keys.idempotency_sk(scope, key), consistent_read=True
                )
        except DoesNotExist:
            return None
        return StoredAnswer(item.request_hash, int(item.status_code), dict(item.response), int(item.created_at))

    def pool(self, tenant_id: str) -> Pool:
        try:
            with busy_as_store_busy():
                item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no tenant {tenant_id}") from exc
        expiry = None if item.next_lot_expiry is None else int(item.next_lot_expiry)
        return Pool(balance=int(item.balance), reserved=int(item.reserved), next_lot_expiry=expiry)

    def lots(self, tenant_id: str) -> list[Lot]:
        with busy_as_store_busy():
            items = LotItem.query(keys.tenant_pk(tenant_id), LotItem.sk.startswith("LOT#"), consistent_read=True)
            return [to_lot(tenant_id, item) for item in items]

    def ledger_page(self, tenant_id: str, cursor: str | None, limit: int) -> LedgerPage:
        """Newest first. ``balance_after`` is reconstructed from the balance read first, walking back;
        the cursor carries the running balance to the next page."""
        start_key, running = _decode_cursor(cursor, tenant_id) if cursor else (None, self.pool(tenant_id).balance)
        with busy_as_store_busy():
            result = LedgerEntryItem.query(
                keys.ledger_pk(tenant_id),
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=start_key,
                consistent_read=True,
            )
            entries = []
            for item in result:
                entries.append(to_entry(tenant_id, item, running))
                running -= int(item.amount)
            last = result.last_evaluated_key
        return LedgerPage(entries, _encode_cursor(last, running) if last else None)


def _encode_cursor(last_key: dict[str, dict[str, str]], running: int) -> str:
    raw = json.dumps({"sk": last_key["sk"]["S"], "b": running}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, tenant_id: str) -> tuple[dict[str, dict[str, str]], int]:
    """The partition always comes from the authenticated tenant, never from the cursor."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        sk, running = str(raw["sk"]), int(raw["b"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidField("cursor", "is not a cursor this API returned") from exc
    return {"pk": {"S": keys.ledger_pk(tenant_id)}, "sk": {"S": sk}}, running
