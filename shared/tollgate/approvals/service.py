"""The actions service: asking (``POST /v1/actions``), reading, the approver's queue, reviews, cancelling,
redemption (``POST /v1/consume`` with ``action_id``) and the sweeper's entry. The rules themselves are the
state machine of ``tollgate.approvals.rules_actions``; this module authorises, reads, applies the clock first (time
is enforced when read) and writes each change through the repository, re-reading when it lost a race.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tollgate.approvals import rules_actions as act
from tollgate.approvals.rules_actions import Action, ActionChange, ActionStatus, ApprovalTerms, ReviewDecision, Reviewer
from tollgate.core.clock import Clock
from tollgate.core.errors import ActionDenied, Forbidden, NotFound, PolicyChanged, StoreBusy
from tollgate.core.idempotency import Answer, Replayed, StoredAnswer, check_replay, request_fingerprint
from tollgate.core.ids import IdGenerator
from tollgate.core.models import EntryKind, LedgerEntry, Principal
from tollgate.core.ports import LotSettler
from tollgate.core.roles import Role
from tollgate.holds.service import may_keep, until_written
from tollgate.pool.service_spending import Charge, Spend, Spending, SpendKind, catalog_feature
from tollgate.purchases.rules_catalog import CatalogRepository

_ATTEMPTS = 8  # re-reads after losing a race for the action's version
_PAGE_READS = 10  # reads a page may take to fill itself past actions the caller may not see or review
READERS = frozenset({Role.OWNER, Role.ADMIN, Role.APPROVER, Role.AUDITOR})  # see every action of the tenant


class BreakGlassNotAllowed(Forbidden):
    """The request asked for break-glass, but the matching rule does not allow it for this key."""

    code = "BREAK_GLASS_NOT_ALLOWED"


@dataclass(frozen=True)
class Ask:
    """What the requester asks for (the body of ``POST /v1/actions``)."""

    action: str
    feature: str | None = None
    quantity: int | None = None
    project_id: str | None = None
    environment: str | None = None
    region: str | None = None
    reason: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    break_glass: bool = False

    def fingerprint(self) -> str:
        return request_fingerprint(
            "action",
            self.action,
            self.feature,
            self.quantity,
            self.project_id,
            self.environment,
            self.region,
            self.reason,
            self.attributes,
            self.break_glass,
        )


@dataclass(frozen=True)
class Verdict:
    """The tenant's policy on one ask (the policy module's decision, in the terms actions need)."""

    effect: str  # "allow" | "deny" | "require_approval"
    rule_id: str | None
    policy_version: int
    terms: ApprovalTerms | None = None  # require_approval: the rule's approval
    break_glass_allowed: bool = False
    grant_ttl_s: int = act.DEFAULT_GRANT_TTL_S  # allow: how long the approved action holds its tokens
    context: Any = None  # what the store read with the policy (the decision log's head), handed back to it


class PolicyJudge(Protocol):
    def judge(self, caller: Principal, ask: Ask, tokens: int, now: int) -> Verdict: ...


class ActionRepository(Protocol):
    def create(self, change: ActionChange, answer: Answer, head: Any = None) -> None:
        """``head``: the ``Verdict.context`` the policy was read with. Raises Replayed, InsufficientTokens,
        ProjectBudgetExhausted, TenantSuspended or LotsDue."""
        ...

    def change(self, change: ActionChange, entry: LedgerEntry | None = None, answer: Answer | None = None) -> bool:
        """False if the action changed since it was read."""
        ...

    def get(self, tenant_id: str, action_id: str) -> Action: ...

    def page(
        self, tenant_id: str, status: ActionStatus | None, cursor: str | None, limit: int
    ) -> tuple[list[Action], str | None]: ...

    def stored_answer(self, tenant_id: str, scope: str, key: str) -> StoredAnswer | None: ...


def reviewer_of(caller: Principal) -> Reviewer:
    """Only tenant API keys review (any of them may be named an approver); a license key never does."""
    if caller.role is None:
        raise Forbidden("only an API key named as an approver may review actions")
    return Reviewer(caller.key_id, caller.role.value)


class ActionService:
    def __init__(
        self,
        actions: ActionRepository,
        catalog: CatalogRepository,
        judge: PolicyJudge,
        clock: Clock,
        ids: IdGenerator,
        settler: LotSettler | None = None,
        spending: Spending | None = None,
    ) -> None:
        self._actions = actions
        self._catalog = catalog
        self._judge = judge
        self._clock = clock
        self._ids = ids
        self._spending = spending or Spending(None, settler)

    # --- asking -----------------------------------------------------------------------------------------

    def request(self, caller: Principal, ask: Ask, idempotency_key: str) -> tuple[int, Action]:
        """200 approved, 202 pending; raises ActionDenied (403, after recording it), or 402 when its tokens
        cannot be held. Asking is a spend (the spending pipeline): the ask's feature, region, project and
        environment must be in the key's scope; the policy's decision is the action's own. A retry with the
        same Idempotency-Key answers the first answer."""
        ask = self._scoped(caller, ask)
        fingerprint = ask.fingerprint()
        scope = f"action:{caller.key_id}"
        spend = Spend(SpendKind.ACTION, ask.feature, ask.region, ask.project_id, ask.environment)

        def price() -> Charge[tuple[int, Action]]:
            cost_per_use, quantity = 0, 0
            if ask.feature is not None:
                cost_per_use = catalog_feature(self._catalog, ask.feature).cost_per_use
                quantity = ask.quantity or 1

            def write(_: int | None) -> tuple[int, Action]:
                for _attempt in range(_ATTEMPTS):
                    try:
                        return self._decide_and_write(
                            caller, ask, cost_per_use, quantity, fingerprint, scope, idempotency_key
                        )
                    except PolicyChanged:
                        continue  # the policy changed under the decision: never act on the old one
                raise StoreBusy("the policy kept changing; nothing was done. Retry later.")

            return Charge(cost_per_use * quantity, write)

        def replayed() -> tuple[int, Action] | None:
            stored = self._actions.stored_answer(caller.tenant_id, scope, idempotency_key)
            return None if stored is None else self._replay(caller.tenant_id, stored, fingerprint)

        return self._spending.spend(caller, spend, price, replayed)

    def _decide_and_write(
        self,
        caller: Principal,
        ask: Ask,
        cost_per_use: int,
        quantity: int,
        fingerprint: str,
        scope: str,
        idempotency_key: str,
    ) -> tuple[int, Action]:
        now = self._clock.now()
        verdict = self._judge.judge(caller, ask, cost_per_use * quantity, now)
        action = Action(
            id=self._ids.new_id("act"),
            tenant_id=caller.tenant_id,
            name=ask.action,
            requester=caller.actor,
            status=ActionStatus.PENDING,
            created_at=now,
            rule_id=verdict.rule_id,
            policy_version=verdict.policy_version,
            feature=ask.feature,
            quantity=quantity,
            cost_per_use=cost_per_use,
            project_id=ask.project_id,
            environment=ask.environment,
            region=ask.region,
            reason=ask.reason,
            attributes=dict(ask.attributes),
            idempotency_key=idempotency_key,
        )
        change = self._decide(action, ask, verdict, now)
        status = {ActionStatus.APPROVED: 200, ActionStatus.PENDING: 202}.get(change.after.status, 403)
        answer = Answer(scope, idempotency_key, StoredAnswer(fingerprint, status, {"action_id": action.id}, now))
        try:
            self._actions.create(change, answer, verdict.context)
        except Replayed as replay:
            return self._replay(caller.tenant_id, replay.answer, fingerprint)
        if status == 403:
            raise _denied(change.after)
        return status, change.after

    @staticmethod
    def _scoped(caller: Principal, ask: Ask) -> Ask:
        """A license key asks within its own scope: its project and environment, when the ask names none (one
        that names others is refused by the spending pipeline's scope check)."""
        key = caller.license_key
        if key is None:
            return ask
        return replace(ask, project_id=ask.project_id or key.project_id, environment=ask.environment or key.environment)

    @staticmethod
    def _decide(action: Action, ask: Ask, verdict: Verdict, now: int) -> ActionChange:
        if verdict.effect == "deny":
            return act.refused(action, now)
        if verdict.effect == "require_approval":
            assert verdict.terms is not None
            if not ask.break_glass:
                return act.pending(action, verdict.terms, now)
            if not verdict.break_glass_allowed:
                raise BreakGlassNotAllowed(f"rule {verdict.rule_id} does not allow break-glass for this key")
            return act.broke_glass(action, verdict.terms, now)
        return act.allowed(action, verdict.grant_ttl_s, now)

    def _replay(self, tenant_id: str, stored: StoredAnswer, fingerprint: str) -> tuple[int, Action]:
        check_replay(stored, fingerprint, self._clock.now())
        action = self._actions.get(tenant_id, str(stored.body["action_id"]))
        if stored.status_code == 403:
            raise _denied(action)
        return stored.status_code, act.as_of(action, self._clock.now())

    # --- reading ----------------------------------------------------------------------------------------

    def get(self, caller: Principal, action_id: str) -> Action:
        action = self._actions.get(caller.tenant_id, action_id)
        self._may_read(caller, action)
        return self._settle_due(action)

    def page(
        self,
        caller: Principal,
        status: ActionStatus | None,
        reviewable: bool,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Action], str | None]:
        """Newest first, as the clock has them now. ``reviewable``: only what the caller may review now. A page
        is filled from the next ones when filters drop actions (up to ``_PAGE_READS`` reads), so a short page
        with a cursor is rare, and an empty one with a cursor needs ten pages of nothing to show."""
        reviewer = reviewer_of(caller) if reviewable else None
        sees_all = caller.role in READERS or reviewer is not None
        stored_status = None if status in (None, ActionStatus.EXPIRED) else status
        if stored_status is ActionStatus.PENDING or reviewer is not None:
            stored_status = ActionStatus.PENDING
        now = self._clock.now()
        shown: list[Action] = []
        next_cursor = cursor
        for _ in range(_PAGE_READS):  # what the clock, the review rights or the requester filter out is read past
            found, next_cursor = self._actions.page(caller.tenant_id, stored_status, next_cursor, limit - len(shown))
            for action in found:
                current = act.as_of(action, now)
                if status is not None and current.status is not status:
                    continue
                if reviewer is not None and not act.may_review(action, reviewer, now):
                    continue
                if not sees_all and action.requester != caller.actor:
                    continue
                shown.append(current)
            if len(shown) >= limit or next_cursor is None:
                break
        return shown, next_cursor

    @staticmethod
    def _may_read(caller: Principal, action: Action) -> None:
        if caller.actor == action.requester or caller.role in READERS:
            return
        terms = action.terms
        if caller.role is not None and terms is not None:
            named = [terms.approvers] + ([terms.escalate_to] if terms.escalate_to is not None else [])
            if any(s.include(caller.key_id, caller.role.value) for s in named):
                return
        raise Forbidden("only the requester, its approvers and owner, admin, approver or auditor keys read an action")

    # --- changes ----------------------------------------------------------------------------------------

    def _settle_due(self, action: Action) -> Action:
        """Apply what the clock changed (escalation, expiry, a grant lapsing), each once; re-read on a race."""
        for _ in range(_ATTEMPTS):
            change = act.due_change(action, self._clock.now())
            if change is None:
                return action
            action = change.after if self._actions.change(change) else self._actions.get(action.tenant_id, action.id)
        raise StoreBusy()

    def review(self, caller: Principal, action_id: str, decision: ReviewDecision, comment: str) -> Action:
        """One review; 409 when it comes after the action was resolved (the loser of a race gets that)."""
        reviewer = reviewer_of(caller)

        def attempt() -> Action | None:
            action = self._settle_due(self._actions.get(caller.tenant_id, action_id))
            change = act.reviewed(action, reviewer, decision, comment, self._clock.now())
            return change.after if self._actions.change(change) else None

        return until_written(attempt, _ATTEMPTS)

    def cancel(self, caller: Principal, action_id: str) -> Action:
        """Winding down: never refused for the tenant's status, the key's revocation or the policy; the
        hold is released and nothing is charged."""

        def attempt() -> Action | None:
            action = self._actions.get(caller.tenant_id, action_id)
            may_keep(caller, action.requester, "action")
            change = act.cancelled(self._settle_due(action), caller.actor, self._clock.now())
            return change.after if self._actions.change(change) else None

        return until_written(attempt, _ATTEMPTS)

    def redeem(
        self, caller: Principal, action_id: str, feature: str, quantity: int, idempotency_key: str, minimal: bool
    ) -> tuple[int, dict[str, Any]]:
        """Spend an approved action once, charged from its hold, through the spending pipeline: the key's scope
        is checked against the request's feature and the action's region, project and environment; the
        policy is not evaluated again (the approval is step 4). The answer is consume's (``charged``,
        ``entry_id``, ``balance_after``) and the action's id."""
        fingerprint = request_fingerprint("consume", feature, quantity, action_id)
        scope = f"consume:{caller.key_id}"

        def attempt() -> tuple[int, dict[str, Any]] | None:
            action = self._actions.get(caller.tenant_id, action_id)
            may_keep(caller, action.requester, "action")
            stored = self._actions.stored_answer(caller.tenant_id, scope, idempotency_key)
            if stored is not None:
                check_replay(stored, fingerprint, self._clock.now())
                return stored.status_code, stored.body
            spend = Spend(SpendKind.REDEMPTION, feature, action.region, action.project_id, action.environment)
            return self._spending.spend(
                caller,
                spend,
                lambda: self._redemption(
                    caller, action, feature, quantity, fingerprint, scope, idempotency_key, minimal
                ),
            )

        return until_written(attempt, _ATTEMPTS)

    def _redemption(
        self,
        caller: Principal,
        action: Action,
        feature: str,
        quantity: int,
        fingerprint: str,
        scope: str,
        idempotency_key: str,
        minimal: bool,
    ) -> Charge[tuple[int, dict[str, Any]] | None]:
        action = self._settle_due(action)
        now = self._clock.now()
        entry_id = self._ids.new_id("le")
        change = act.redeemed(action, feature, quantity, caller.actor, entry_id, now)
        entry = LedgerEntry(
            id=entry_id,
            tenant_id=caller.tenant_id,
            kind=EntryKind.CONSUMPTION,
            amount=-change.charge,
            created_at=now,
            actor=caller.actor,
            reason=f"{quantity} × {feature}, approved action {action.id}",
            feature=feature,
            quantity=quantity,
            project_id=action.project_id,
            idempotency_key=idempotency_key,
            action_id=action.id,
        )
        body: dict[str, Any] = {"charged": change.charge, "entry_id": entry_id, "action_id": action.id}
        if not minimal:
            body["balance_after"] = caller.tenant.pool.balance - change.charge
        answer = Answer(scope, idempotency_key, StoredAnswer(fingerprint, 200, body, now))

        def write(_: int | None) -> tuple[int, dict[str, Any]] | None:
            try:
                return (200, body) if self._actions.change(change, entry, answer) else None
            except Replayed as replay:
                check_replay(replay.answer, fingerprint, self._clock.now())
                return replay.answer.status_code, replay.answer.body

        return Charge(change.charge, write)

    def expire_if_due(self, tenant_id: str, action_id: str) -> bool:
        """The sweeper's entry: apply what the clock changed. True if this call changed anything."""
        try:
            action = self._actions.get(tenant_id, action_id)
        except NotFound:
            return False
        return self._settle_due(action) is not action


def _denied(action: Action) -> ActionDenied:
    rule = "the policy's default" if action.rule_id is None else f"rule {action.rule_id}"
    return ActionDenied(f"{rule} denies action {action.name} (action {action.id})", action.rule_id)
