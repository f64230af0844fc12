"""The decision log in DynamoDB: a head item and the records, appended in the transaction of the change.

Layout: the head (pk ``T#<tenant>``, sk ``DECISIONS``) holds the last ``seq`` and ``hash``; each record has
pk ``T#<tenant>#D`` and sk its seq on 12 digits, so a query reads the log in order.

How to append records with a change (the API the actions code uses)::

    from tollgate.approvals import store_decisions as decisions

    def build(head: ChainHead) -> tuple[PoolTransaction, list[DecisionDraft]]:
        tx = PoolTransaction(tenant_id, kernel.token("action", action_id))
        tx.pool(...); tx.put("action", item, condition)           # the change itself
        return tx, [DecisionDraft(now, caller.actor, "action.approved", action_id, rule_id, version)]

    records = decisions.commit_with_decisions(tenant_id, build)   # one TransactWriteItems

``commit_with_decisions`` reads the head (one consistent GetItem), lets ``build`` make the transaction
(build it anew on each call: it may be called again), appends the records (``append``) and commits. When
another writer moved the head in between (the cancellation names the head), it reads the head again and
rebuilds, a few times, then ``StoreBusy``. Any other refusal is the caller's (``kernel.Refused``, with
its labels) and is raised as is. Several drafts in one call become consecutive records (a review that
resolves an action: ``review.approved`` then ``action.approved``).

``append(tx, tenant_id, drafts, head)`` is the lower-level step for a caller that reads the head itself:
it adds the record puts (labels ``decision:<seq>``) and the head update (label ``decision_head``),
conditioned on the head still being ``head``, and makes the transaction's token depend on the head (a
rebuilt transaction is a new request, never a replay of the old one).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence

from pynamodb.exceptions import DoesNotExist

from tollgate.approvals.rules_decisions import ChainHead, DecisionDraft, DecisionPage, DecisionRecord, chain
from tollgate.core.errors import StoreBusy
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.cursors import CURSORS, text_at
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import DecisionHeadItem, DecisionRecordItem
from tollgate.kernel.pool import PoolTransaction, Refused

HEAD = "decision_head"
RECORD_PREFIX = "decision:"
DECISIONS_CURSOR = "decisions"
ATTEMPTS = 6


def read_head(tenant_id: str) -> ChainHead:
    try:
        with busy_as_store_busy():
            item = DecisionHeadItem.get(keys.tenant_pk(tenant_id), keys.DECISIONS_SK, consistent_read=True)
    except DoesNotExist:
        return ChainHead()
    return ChainHead(int(item.seq), str(item.hash))


def append(
    tx: PoolTransaction, tenant_id: str, drafts: Sequence[DecisionDraft], head: ChainHead
) -> list[DecisionRecord]:
    """Add ``drafts`` to ``tx`` as the records after ``head``; returns them (written only if ``tx`` commits)."""
    records = chain(head, drafts)
    if not records:
        return records
    for record in records:
        tx.put(f"{RECORD_PREFIX}{record.seq}", _item(tenant_id, record), DecisionRecordItem.pk.does_not_exist())
    last = records[-1]
    row = DecisionHeadItem(keys.tenant_pk(tenant_id), keys.DECISIONS_SK)
    moved = DecisionHeadItem.pk.does_not_exist() if head.seq == 0 else DecisionHeadItem.seq == head.seq
    tx.update(HEAD, row, [DecisionHeadItem.seq.set(last.seq), DecisionHeadItem.hash.set(last.hash)], moved)
    tx.token = kernel.token(tx.token, "decisions", str(head.seq))
    return records


def head_moved(refused: Refused) -> bool:
    return HEAD in refused or any(label.startswith(RECORD_PREFIX) for label in refused.failed)


def commit_with_decisions(
    tenant_id: str, build: Callable[[ChainHead], tuple[PoolTransaction, Sequence[DecisionDraft]]]
) -> list[DecisionRecord]:
    """Build, append and commit, again with a fresh head while another writer moved it (see the module's
    docstring). Raises the caller's ``Refused`` as is, ``StoreBusy`` when the head kept moving."""
    for _ in range(ATTEMPTS):
        head = read_head(tenant_id)
        tx, drafts = build(head)
        records = append(tx, tenant_id, drafts, head)
        try:
            tx.commit()
        except Refused as refused:
            if head_moved(refused) and not _others(refused):
                continue
            raise
        return records
    raise StoreBusy("the decision log is busy; nothing was changed. Retry later.")


def _others(refused: Refused) -> bool:
    return any(label != HEAD and not label.startswith(RECORD_PREFIX) for label in refused.failed)


def record_alone(tenant_id: str, draft: DecisionDraft) -> DecisionRecord:
    """A record of its own (a spend refused by the policy: nothing else changes), in a small transaction.
    Its token is new on each call: a refusal asked again is a decision again."""
    once = secrets.token_hex(8)

    def build(_: ChainHead) -> tuple[PoolTransaction, list[DecisionDraft]]:
        return PoolTransaction(tenant_id, kernel.token("decision", draft.event, once)), [draft]

    return commit_with_decisions(tenant_id, build)[0]


class DynamoRefusalLog:
    """``tollgate.approvals.service_spend.RefusalLog``."""

    def record(self, tenant_id: str, draft: DecisionDraft) -> None:
        record_alone(tenant_id, draft)


# -------------------------------------------------------------------------------------------------- reads


def page(tenant_id: str, cursor: str | None, limit: int) -> DecisionPage:
    """Oldest first (the chain's order), ``limit`` records; the cursor is sealed to this tenant."""
    start = None
    if cursor is not None:
        sk = text_at(CURSORS.open(DECISIONS_CURSOR, tenant_id, cursor), "sk")
        start = {"pk": {"S": keys.decisions_pk(tenant_id)}, "sk": {"S": sk}}
    with busy_as_store_busy():
        result = DecisionRecordItem.query(
            keys.decisions_pk(tenant_id), limit=limit, last_evaluated_key=start, consistent_read=True
        )
        records = [_record(item) for item in result]
        last = result.last_evaluated_key
    next_cursor = CURSORS.seal(DECISIONS_CURSOR, tenant_id, {"sk": last["sk"]["S"]}) if last else None
    return DecisionPage(records, next_cursor)


def all_records(tenant_id: str) -> Iterator[DecisionRecord]:
    """Every record, in order (export and verification), read page by page."""
    with busy_as_store_busy():
        for item in DecisionRecordItem.query(keys.decisions_pk(tenant_id), consistent_read=True, page_size=500):
            yield _record(item)


def _item(tenant_id: str, record: DecisionRecord) -> DecisionRecordItem:
    return DecisionRecordItem(
        keys.decisions_pk(tenant_id),
        keys.decision_sk(record.seq),
        seq=record.seq,
        at=record.at,
        actor=record.actor,
        event=record.event,
        action_id=record.action_id,
        rule_id=record.rule_id,
        policy_version=record.policy_version,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def _record(item: DecisionRecordItem) -> DecisionRecord:
    return DecisionRecord(
        seq=int(item.seq),
        at=int(item.at),
        actor=str(item.actor),
        event=str(item.event),
        action_id=item.action_id,
        rule_id=item.rule_id,
        policy_version=None if item.policy_version is None else int(item.policy_version),
        prev_hash=str(item.prev_hash),
        hash=str(item.hash),
    )


class DynamoDecisionReader:
    """``tollgate.approvals.rules_decisions.DecisionReader`` on the table."""

    def page(self, tenant_id: str, cursor: str | None, limit: int) -> DecisionPage:
        return page(tenant_id, cursor, limit)

    def all(self, tenant_id: str) -> Iterator[DecisionRecord]:
        return all_records(tenant_id)
