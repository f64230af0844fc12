"""Actions in the store: every change of an action is ONE pool-kernel transaction holding the action item
(label ``action``; a new one written only if absent, a changed one only if still at the version read), the
pool's hold change (``reserved``; a redemption's charge from the balance), the project budget, the ledger
entry of a redemption, the idempotent answer, the decision records (the hash-chained log) and the outbox
events. Two approvers racing for the last approval both write version ``v``: exactly one commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, GetError

from tollgate.approvals import store_decisions as decisions
from tollgate.approvals.rules import Policy, policy_from_document
from tollgate.approvals.rules_actions import Action, ActionChange, ActionStatus, ApprovalTerms, Review
from tollgate.approvals.rules_decisions import ChainHead, DecisionDraft
from tollgate.approvals.store_policy import read_policy
from tollgate.core.budgets import Levels, levels_for
from tollgate.core.errors import NotFound, PolicyChanged
from tollgate.core.idempotency import Answer, Replayed, StoredAnswer
from tollgate.core.models import LedgerEntry
from tollgate.events.rules import new_event
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.connection import shared_connection
from tollgate.kernel.cursors import CURSORS, text_at
from tollgate.kernel.errors import busy_as_store_busy, with_retries
from tollgate.kernel.items import ActionItem, DecisionHeadItem, PolicyItem
from tollgate.kernel.policy_check import POLICY, check_policy_version
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.records import stored_answer

LABEL = "action"
ACTIONS_CURSOR = "actions"


def _levels(action: Action) -> Levels:
    """The budget levels an action's hold is charged against: its project, environment and license key."""
    return levels_for(action.project_id, action.environment, action.requester)


def action_item(action: Action) -> ActionItem:
    item = ActionItem(
        keys.tenant_pk(action.tenant_id),
        keys.action_sk(action.id),
        action_id=action.id,
        name=action.name,
        requester=action.requester,
        status=action.status.value,
        created_at=action.created_at,
        rule_id=action.rule_id,
        policy_version=action.policy_version,
        feature=action.feature,
        quantity=action.quantity,
        cost_per_use=action.cost_per_use,
        charged=action.charged,
        project_id=action.project_id,
        environment=action.environment,
        region=action.region,
        reason=action.reason,
        attributes=action.attributes or None,
        terms=None if action.terms is None else action.terms.as_dict(),
        expires_at=action.expires_at,
        escalates_at=action.escalates_at,
        escalated=action.escalated,
        grant_expires_at=action.grant_expires_at,
        reviews=[review.as_dict() for review in action.reviews] or None,
        break_glass=action.break_glass,
        resolved_at=action.resolved_at,
        entry_id=action.entry_id,
        idempotency_key=action.idempotency_key,
        version=action.version,
    )
    due = action.due_at()
    if due is not None:
        item.due_shard = keys.DUE_SHARD
        item.due_at = due
    return item


def _opt(value: Any) -> int | None:
    return None if value is None else int(value)


def to_action(tenant_id: str, item: ActionItem) -> Action:
    return Action(
        id=item.action_id,
        tenant_id=tenant_id,
        name=item.name,
        requester=item.requester,
        status=ActionStatus(item.status),
        created_at=int(item.created_at),
        rule_id=item.rule_id,
        policy_version=int(item.policy_version),
        feature=item.feature,
        quantity=int(item.quantity or 0),
        cost_per_use=int(item.cost_per_use or 0),
        held=int(item.held or 0),
        charged=int(item.charged or 0),
        project_id=item.project_id,
        environment=item.environment,
        region=item.region,
        reason=item.reason,
        attributes=dict(item.attributes or {}),
        terms=None if item.terms is None else ApprovalTerms.from_dict(item.terms),
        expires_at=_opt(item.expires_at),
        escalates_at=_opt(item.escalates_at),
        escalated=bool(item.escalated),
        grant_expires_at=_opt(item.grant_expires_at),
        reviews=tuple(Review.from_dict(r) for r in (item.reviews or [])),
        break_glass=bool(item.break_glass),
        resolved_at=_opt(item.resolved_at),
        entry_id=item.entry_id,
        idempotency_key=item.idempotency_key,
        version=int(item.version or 0),
    )


def read_policy_and_head(tenant_id: str) -> tuple[Policy, ChainHead]:
    """The tenant's policy and the decision log's head in ONE request (a BatchGetItem of two items of the
    tenant's partition, consistent): what a new action is decided by and chained after."""
    pk = keys.tenant_pk(tenant_id)
    table = ActionItem.Meta.table_name
    wanted = [{"pk": {"S": pk}, "sk": {"S": sk}} for sk in (keys.POLICY_SK, keys.DECISIONS_SK)]
    request = {"RequestItems": {table: {"Keys": wanted, "ConsistentRead": True}}}

    def read() -> dict[str, Any]:
        try:
            return dict(shared_connection().dispatch("BatchGetItem", request))
        except (BotoCoreError, ClientError) as exc:
            raise GetError("reading the policy and the decision log's head failed", exc) from exc

    with busy_as_store_busy():
        found = with_retries(read)
    if found.get("UnprocessedKeys"):  # throttled in part: read them one by one
        return read_policy(tenant_id), decisions.read_head(tenant_id)
    policy, head = Policy(), ChainHead()
    for raw in found.get("Responses", {}).get(table, []):
        if raw["sk"]["S"] == keys.POLICY_SK:
            stored = PolicyItem.from_raw_data(raw)
            policy = policy_from_document(int(stored.version), dict(stored.document))
        else:
            mark = DecisionHeadItem.from_raw_data(raw)
            head = ChainHead(int(mark.seq), str(mark.hash))
    return policy, head


def with_events(tx: PoolTransaction, change: ActionChange) -> PoolTransaction:
    """The change's outbox events, in its transaction. An event's id derives from the action, its version
    after the change and the event's type: the same change written twice cannot tell anyone twice."""
    action = change.after
    for notice in change.notices:
        identity = (action.id, str(action.version), notice.type)
        tx.event(new_event(action.tenant_id, notice.type, change.now, notice.data, *identity))
    return tx


def drafts(change: ActionChange) -> list[DecisionDraft]:
    """The decision records of a change, in order."""
    action = change.after
    return [
        DecisionDraft(change.now, record.actor, record.event, action.id, action.rule_id, action.policy_version)
        for record in change.records
    ]


class DynamoActionRepository:
    def create(self, change: ActionChange, answer: Answer, head: Any = None) -> None:
        """A new action with its hold (if any), answer, records and events. Raises Replayed,
        InsufficientTokens, ProjectBudgetExhausted, TenantSuspended or LotsDue; changes nothing then."""
        action = change.after

        def build() -> PoolTransaction:
            tx = PoolTransaction(action.tenant_id, kernel.token("action-open", action.id))
            tx.open_hold(LABEL, action_item(action), action.held, now=change.now, levels=_levels(action))
            check_policy_version(tx, action.tenant_id, action.policy_version)  # decided under the current policy
            tx.answer(answer.scope, answer.key, answer.answer, change.now)
            return tx

        try:
            self._commit(change, build, head if isinstance(head, ChainHead) else None)
        except Refused as refused:
            if kernel.ANSWER in refused:
                stored = self.stored_answer(action.tenant_id, answer.scope, answer.key)
                if stored is not None:
                    raise Replayed(stored) from refused
            if POLICY in refused:
                raise PolicyChanged() from refused
            kernel.explain_pool(refused, action.held, change.now, "this action needs to hold")
            kernel.explain_budget(refused, action.held)
            raise

    def change(self, change: ActionChange, entry: LedgerEntry | None = None, answer: Answer | None = None) -> bool:
        """Apply a change of an existing action, conditioned on the version read. False if the action moved
        since (read it again). A redemption (``entry``) is spending: the tenant must be active."""
        before, after = change.before, change.after
        assert before is not None
        # one token per call (reused by its retries): two concurrent changes of one version must not share it
        call = secrets.token_hex(8)

        def build() -> PoolTransaction:
            tx = PoolTransaction(before.tenant_id, kernel.token("action", before.id, call))
            unchanged = (ActionItem.version == before.version) & (ActionItem.status == before.status.value)
            item, levels, spending = action_item(after), _levels(before), entry is not None
            if after.held == 0:  # resolved: what it held goes back, a redemption's charge is spent
                held, used = before.held, change.charge
                tx.settle_hold(
                    LABEL,
                    item,
                    held=held,
                    used=used,
                    condition=unchanged,
                    levels=levels,
                    active=spending,  # a redemption spends: the tenant active, no lot past its end
                    now=change.now if spending else None,
                )
            else:
                tx.resize_hold(
                    LABEL,
                    item,
                    was=before.held,
                    to=after.held,
                    used=change.charge,
                    now=change.now,
                    condition=unchanged,
                    levels=levels,
                    active=spending,
                )
            if entry is not None:
                tx.entry(entry)
            if answer is not None:
                tx.answer(answer.scope, answer.key, answer.answer, change.now)
            return tx

        try:
            self._commit(change, build)
        except Refused as refused:
            if LABEL in refused:
                return False
            if answer is not None and kernel.ANSWER in refused:
                stored = self.stored_answer(before.tenant_id, answer.scope, answer.key)
                if stored is not None:
                    raise Replayed(stored) from refused
            kernel.explain_pool(refused, 0, change.now, "redeeming this action needs")
            raise
        return True

    @staticmethod
    def _commit(change: ActionChange, build: Callable[[], PoolTransaction], head: ChainHead | None = None) -> None:
        """Build the change's transaction, add its decision records (chained after the log's head) and its
        outbox events, and commit it; built again while another writer moved the head. ``head``: the head
        as already read with the policy (a first attempt without a read of its own)."""
        tenant_id = change.after.tenant_id
        if head is not None:
            tx = with_events(build(), change)
            decisions.append(tx, tenant_id, drafts(change), head)
            try:
                tx.commit()
                return
            except Refused as refused:
                if not decisions.head_moved(refused) or any(
                    label != decisions.HEAD and not label.startswith(decisions.RECORD_PREFIX)
                    for label in refused.failed
                ):
                    raise

        def with_records(_: ChainHead) -> tuple[PoolTransaction, list[DecisionDraft]]:
            return with_events(build(), change), drafts(change)

        decisions.commit_with_decisions(tenant_id, with_records)

    def get(self, tenant_id: str, action_id: str) -> Action:
        try:
            with busy_as_store_busy():
                item = ActionItem.get(keys.tenant_pk(tenant_id), keys.action_sk(action_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no action {action_id}") from exc
        return to_action(tenant_id, item)

    def page(
        self, tenant_id: str, status: ActionStatus | None, cursor: str | None, limit: int
    ) -> tuple[list[Action], str | None]:
        """Newest first; ``status`` filters as stored (the service applies the clock on top)."""
        start = None
        if cursor is not None:
            sk = text_at(CURSORS.open(ACTIONS_CURSOR, tenant_id, cursor), "sk")
            if not sk.startswith(keys.ACTION_SK_PREFIX):
                raise NotFound("no such page")
            start = {"pk": {"S": keys.tenant_pk(tenant_id)}, "sk": {"S": sk}}
        condition = None if status is None else ActionItem.status == status.value
        with busy_as_store_busy():
            result = ActionItem.query(
                keys.tenant_pk(tenant_id),
                ActionItem.sk.startswith(keys.ACTION_SK_PREFIX),
                filter_condition=condition,
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=start,
                consistent_read=True,
            )
            actions = [to_action(tenant_id, item) for item in result]
            last = result.last_evaluated_key
        next_cursor = None if not last else CURSORS.seal(ACTIONS_CURSOR, tenant_id, {"sk": last["sk"]["S"]})
        return actions, next_cursor

    def all(self, tenant_id: str) -> list[Action]:
        with busy_as_store_busy():
            return [
                to_action(tenant_id, item)
                for item in ActionItem.query(
                    keys.tenant_pk(tenant_id), ActionItem.sk.startswith(keys.ACTION_SK_PREFIX), consistent_read=True
                )
            ]

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None:
        return stored_answer(tenant_id, scope, key)
