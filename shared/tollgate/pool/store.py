"""The token pool, its ledger and lots, and idempotent answers, stored with pynamodb transactions."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DoesNotExist

from tollgate.core.errors import NotFound, PolicyChanged, StoreBusy, Unauthenticated
from tollgate.core.idempotency import Replayed, StoredAnswer
from tollgate.core.models import Lot, Pool
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.cursors import CURSORS, LEDGER_CURSOR, integer_at, text_at
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import LedgerEntryItem, LicenseKeyItem, LotItem, TenantItem
from tollgate.kernel.policy_check import POLICY, check_policy_version
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.records import stored_answer, to_entry, to_lot
from tollgate.pool.service import Credit, Debit, LedgerPage


class DynamoPoolRepository:
    def debit(self, debit: Debit) -> None:
        version = debit.policy_version
        parts = ("debit", debit.entry.id) if version is None else ("debit", debit.entry.id, f"policy-{version}")
        tx = PoolTransaction(debit.tenant_id, kernel.token(*parts))
        if debit.license_key_check is not None:
            key_id, secret_hash = debit.license_key_check
            tx.check(
                "license_key",
                LicenseKeyItem,
                keys.tenant_pk(debit.tenant_id),
                keys.license_key_sk(key_id),
                (LicenseKeyItem.secret_hash == secret_hash) & LicenseKeyItem.revoked_at.does_not_exist(),
            )
        if debit.policy_version is not None:
            check_policy_version(tx, debit.tenant_id, debit.policy_version)
        tx.debit(debit.amount, now=debit.now, levels=debit.levels)
        tx.entry(debit.entry).answer(debit.idempotency_scope, debit.idempotency_key, debit.answer, debit.now)
        try:
            tx.commit()
        except Refused as refused:
            if "license_key" in refused:
                raise Unauthenticated("this license key was revoked or rotated") from refused
            if kernel.ANSWER in refused:
                stored = self.stored_answer(debit.tenant_id, debit.idempotency_scope, debit.idempotency_key)
                if stored is not None:
                    raise Replayed(stored) from refused
            if POLICY in refused:
                raise PolicyChanged() from refused
            kernel.explain_pool(refused, debit.amount, debit.now)
            kernel.explain_budget(refused, debit.amount)
            raise

    def credit(self, credit: Credit) -> None:
        for _ in range(5):
            if self._try_credit(credit):
                return
        raise StoreBusy()

    def _try_credit(self, credit: Credit) -> bool:
        """False when the pool's soonest lot end moved under us; the caller reads again and retries."""
        lot = credit.lot
        current = self.pool(credit.tenant_id).next_lot_expiry if lot is not None and lot.expires_at else None
        tx = PoolTransaction(credit.tenant_id, kernel.token("credit", credit.entry.id))
        if credit.entry.amount > 0:
            tx.credit(credit.entry.amount, lot=lot, soonest_end=current)
        else:  # a negative adjustment
            tx.take_back(-credit.entry.amount)
        tx.entry(credit.entry)
        if credit.answer is not None:
            scope, key, answer = credit.answer
            tx.answer(scope, key, answer, answer.created_at)
        try:
            tx.commit()
        except Refused as refused:
            if kernel.ANSWER in refused and credit.answer is not None:
                stored = self.stored_answer(credit.tenant_id, credit.answer[0], credit.answer[1])
                if stored is not None:
                    raise Replayed(stored) from refused
            if kernel.ENTRY in refused:
                return True  # this entry was written before: a credit is applied once
            if kernel.POOL in refused:
                self.pool(credit.tenant_id)  # NotFound if the tenant is gone; else the end moved
                return False
            raise
        return True

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        return stored_answer(tenant_id, scope, key)

    def pool(self, tenant_id: str) -> Pool:
        try:
            with busy_as_store_busy():
                item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no tenant {tenant_id}") from exc
        expiry = None if item.next_lot_expiry is None else int(item.next_lot_expiry)
        overdraft = int(item.overdraft or 0)
        return Pool(int(item.balance), int(item.reserved), next_lot_expiry=expiry, overdraft=overdraft)

    def set_overdraft(self, tenant_id: str, tokens: int) -> None:
        tx = PoolTransaction(tenant_id, kernel.token("overdraft", tenant_id, str(tokens), secrets.token_hex(8)))
        try:
            tx.set_overdraft(tokens).commit()
        except Refused as refused:
            raise NotFound(f"no tenant {tenant_id}") from refused

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
        return LedgerPage(entries, _encode_cursor(tenant_id, last, running) if last else None)


def _encode_cursor(tenant_id: str, last_key: dict[str, dict[str, str]], running: int) -> str:
    return CURSORS.seal(LEDGER_CURSOR, tenant_id, {"sk": last_key["sk"]["S"], "b": running})


def _decode_cursor(cursor: str, tenant_id: str) -> tuple[dict[str, dict[str, str]], int]:
    """The partition always comes from the authenticated tenant, never from the cursor; the running balance
    is trusted because the cursor is sealed (``tollgate.kernel.cursors``)."""
    position = CURSORS.open(LEDGER_CURSOR, tenant_id, cursor)
    sk, running = text_at(position, "sk"), integer_at(position, "b")
    return {"pk": {"S": keys.ledger_pk(tenant_id)}, "sk": {"S": sk}}, running
