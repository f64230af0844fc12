"""Usage rollups, kept from the ledger's spending entries, exactly once per entry whatever the stream repeats.

Each entry counted writes a mark (``M#<gen>#<entry>``, on condition it is absent) in the same transaction
as the increment of its rollup, so an entry the stream delivers again refuses the transaction instead of
counting twice. Entries of one batch go together (up to 49 marks and their rollups, merged, per
transaction); when any mark of a chunk already exists, the chunk is applied entry by entry and the ones
already counted are skipped.

Generations make ``tollgate usage rebuild`` exact while the aggregator runs: the rebuild counts the whole
ledger into a fresh generation, moves the tenant's ``USAGE`` item to it, counts again what was written
meanwhile, and deletes the old one. Every aggregator transaction checks that the generation it writes is the
current one, so a batch in flight during the switch is refused and retried into the new generation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from tollgate.core.errors import StoreBusy
from tollgate.core.models import LedgerEntry
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import LedgerEntryItem, UsageMarkItem, UsageMetaItem, UsageRollupItem
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.records import to_entry
from tollgate.reports.rules import DayRange, UsageLine, combine, line_of

CHUNK = 49  # 1 generation check + 49 marks + at most 49 rollups: within TransactWriteItems' 100 items
MARK_PURGE_S = 3 * 86_400  # a stream keeps records 24 h; a mark only has to outlive every redelivery
GENERATION = "generation"
ATTEMPTS = 5


class GenerationMoved(Exception):
    """A rebuild moved the tenant's rollups to another generation while this batch was being counted."""


@dataclass(frozen=True)
class Applied:
    counted: int  # entries newly counted (or replayed by DynamoDB under the same ClientRequestToken)
    repeated: int  # entries already counted (the stream delivered them again)
    transactions: int  # TransactWriteItems sent, refused ones included
    items: int  # items in them (each bills 2 WRU under 1 KB; condition checks included)
    marks_read: int = 0  # marks read back after a refusal (1 RRU each, consistent)


@dataclass(frozen=True)
class Rebuilt:
    tenant_id: str
    old_generation: int
    generation: int
    entries: int
    rollups: int
    deleted: int


def _chunks(entries: Sequence[LedgerEntry], size: int) -> Iterator[Sequence[LedgerEntry]]:
    for start in range(0, len(entries), size):
        yield entries[start : start + size]


def _generation_is(generation: int) -> Condition:
    if generation == 0:
        return UsageMetaItem.generation.does_not_exist() | (UsageMetaItem.generation == 0)
    return UsageMetaItem.generation == generation


class DynamoUsageRepository:
    def generation(self, tenant_id: str) -> int:
        try:
            with busy_as_store_busy():
                item = UsageMetaItem.get(keys.usage_pk(tenant_id), keys.USAGE_META_SK, consistent_read=True)
        except DoesNotExist:
            return 0
        return int(item.generation or 0)

    # counting
    def apply(self, tenant_id: str, entries: Iterable[LedgerEntry]) -> Applied:
        """Count the spending entries among ``entries`` into the current generation, each exactly once."""
        spending = _spending(entries)
        for _ in range(ATTEMPTS):
            try:
                return self._apply(tenant_id, self.generation(tenant_id), spending, checked=True)
            except GenerationMoved:
                continue
        raise StoreBusy()

    def _apply(self, tenant_id: str, generation: int, entries: Sequence[LedgerEntry], checked: bool) -> Applied:
        counted = repeated = transactions = items = marks_read = 0
        for chunk in _chunks(entries, CHUNK):
            transactions += 1
            tx = self._transaction(tenant_id, generation, chunk, checked)
            items += len(tx.labels())
            try:
                tx.commit()
                counted += len(chunk)
                continue
            except Refused as refused:
                if GENERATION in refused:
                    raise GenerationMoved() from refused
            # some were counted before (a redelivery): read which, and count the rest together
            marked = self._marked(tenant_id, generation, chunk)
            marks_read += len(chunk)
            rest = [entry for entry in chunk if entry.id not in marked]
            repeated += len(chunk) - len(rest)
            if not rest:
                continue
            transactions += 1
            tx = self._transaction(tenant_id, generation, rest, checked)
            items += len(tx.labels())
            try:
                tx.commit()
                counted += len(rest)
                continue
            except Refused as refused:
                if GENERATION in refused:
                    raise GenerationMoved() from refused
            for entry in rest:  # counted meanwhile by another delivery: one by one, skipping those
                transactions += 1
                one = self._transaction(tenant_id, generation, [entry], checked)
                items += len(one.labels())
                try:
                    one.commit()
                    counted += 1
                except Refused as refused:
                    if GENERATION in refused:
                        raise GenerationMoved() from refused
                    repeated += 1
        return Applied(counted, repeated, transactions, items, marks_read)

    def _marked(self, tenant_id: str, generation: int, entries: Sequence[LedgerEntry]) -> set[str]:
        """The ids among ``entries`` already counted into ``generation`` (one BatchGetItem per 100)."""
        pk = keys.usage_pk(tenant_id)
        wanted = [(pk, keys.usage_mark_sk(generation, entry.id)) for entry in entries]
        with busy_as_store_busy():
            found = UsageMarkItem.batch_get(wanted, consistent_read=True, attributes_to_get=["entry_id"])
            return {str(item.entry_id) for item in found}

    def _transaction(
        self, tenant_id: str, generation: int, entries: Sequence[LedgerEntry], checked: bool
    ) -> PoolTransaction:
        ids = [entry.id for entry in entries]
        # the token names everything the request holds: the same token with other items is refused by DynamoDB
        tx = PoolTransaction(tenant_id, kernel.token("usage", tenant_id, str(generation), str(checked), *ids))
        pk = keys.usage_pk(tenant_id)
        if checked:
            tx.check(GENERATION, UsageMetaItem, pk, keys.USAGE_META_SK, _generation_is(generation))
        for n, entry in enumerate(entries):
            mark_sk, purge_at = keys.usage_mark_sk(generation, entry.id), entry.created_at + MARK_PURGE_S
            mark = UsageMarkItem(pk, mark_sk, entry_id=entry.id, purge_at=purge_at)
            tx.put(f"mark{n}", mark, UsageMarkItem.pk.does_not_exist())
        lines = combine(line for line in map(line_of, entries) if line is not None)
        for n, line in enumerate(lines):
            sk = keys.usage_rollup_sk(generation, line.day, line.feature, line.project_id, line.key_id)
            actions: list[Action] = [
                UsageRollupItem.generation.set(generation),
                UsageRollupItem.day.set(line.day),
                UsageRollupItem.feature.set(line.feature),
                UsageRollupItem.tokens.add(line.tokens),
                UsageRollupItem.quantity.add(line.quantity),
                UsageRollupItem.entries.add(line.count),
            ]
            if line.project_id is not None:
                actions.append(UsageRollupItem.project_id.set(line.project_id))
            if line.key_id is not None:
                actions.append(UsageRollupItem.key_id.set(line.key_id))
            tx.update(f"rollup{n}", UsageRollupItem(pk, sk), actions)
        return tx

    # reading
    def lines(self, tenant_id: str, within: DayRange) -> list[UsageLine]:
        """The rollups of the current generation for the days of ``within``."""
        generation = self.generation(tenant_id)
        return self._lines(tenant_id, generation, within.first, within.last)

    def all_lines(self, tenant_id: str) -> list[UsageLine]:
        return self._lines(tenant_id, self.generation(tenant_id), "0000-00-00", "9999-99-99")

    def _lines(self, tenant_id: str, generation: int, first: str, last: str) -> list[UsageLine]:
        prefix = keys.usage_rollup_prefix(generation)
        with busy_as_store_busy():
            items = UsageRollupItem.query(
                keys.usage_pk(tenant_id),
                UsageRollupItem.sk.between(prefix + first, prefix + last + "~"),
                consistent_read=True,
            )
            return [
                UsageLine(
                    day=item.day,
                    feature=item.feature,
                    project_id=item.project_id,
                    key_id=item.key_id,
                    tokens=int(item.tokens or 0),
                    quantity=int(item.quantity or 0),
                    count=int(item.entries or 0),
                )
                for item in items
            ]

    # rebuilding
    def ledger(self, tenant_id: str) -> list[LedgerEntry]:
        with busy_as_store_busy():
            items = LedgerEntryItem.query(keys.ledger_pk(tenant_id), consistent_read=True)
            return [to_entry(tenant_id, item, None) for item in items]

    def rebuild(self, tenant_id: str) -> Rebuilt:
        """Rollups counted afresh from the ledger into a new generation, then made current; exact even
        while the aggregator runs (see the module's docstring)."""
        old = self.generation(tenant_id)
        new = self._claim_generation(tenant_id)
        first = _spending(self.ledger(tenant_id))
        self._apply(tenant_id, new, first, checked=False)
        self._switch(tenant_id, old, new)
        again = _spending(self.ledger(tenant_id))  # written meanwhile: counted once, thanks to the marks
        self._apply(tenant_id, new, again, checked=True)
        deleted = self._delete_generation(tenant_id, old)
        rollups = len(self._lines(tenant_id, new, "0000-00-00", "9999-99-99"))
        return Rebuilt(tenant_id, old, new, len(again), rollups, deleted)

    def _claim_generation(self, tenant_id: str) -> int:
        """A generation number no other rebuild uses: ``next_generation`` counts up atomically, and the
        current generation was once claimed this way, so the new one is always above it."""
        item = UsageMetaItem(keys.usage_pk(tenant_id), keys.USAGE_META_SK)
        with busy_as_store_busy():
            item.update(actions=[UsageMetaItem.next_generation.add(1)])
        return int(item.next_generation)

    def _switch(self, tenant_id: str, old: int, new: int) -> None:
        item = UsageMetaItem(keys.usage_pk(tenant_id), keys.USAGE_META_SK)
        with busy_as_store_busy():
            item.update(actions=[UsageMetaItem.generation.set(new)], condition=_generation_is(old))

    def _delete_generation(self, tenant_id: str, generation: int) -> int:
        pk = keys.usage_pk(tenant_id)
        deleted = 0
        with busy_as_store_busy():
            for prefix in (keys.usage_rollup_prefix(generation), keys.usage_mark_sk(generation, "")):
                with UsageMarkItem.batch_write() as batch:
                    found = UsageMarkItem.query(pk, UsageMarkItem.sk.startswith(prefix), attributes_to_get=["pk", "sk"])
                    for item in found:
                        batch.delete(item)
                        deleted += 1
        return deleted


def _spending(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """The entries that are usage, each once, in the order given."""
    seen: set[str] = set()
    kept: list[LedgerEntry] = []
    for entry in entries:
        if entry.id not in seen and line_of(entry) is not None:
            seen.add(entry.id)
            kept.append(entry)
    return kept
