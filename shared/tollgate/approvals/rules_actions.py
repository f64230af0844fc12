"""Actions: the state machine of a just-in-time approval, pure (no store, no clock: ``now`` is passed in).

An action is asked for once (``POST /v1/actions``) and the tenant's policy answers at once or sends it to
approvers. The rules, in one place (SPEC.md "Approvals", docs/approvals.md):

- Statuses: ``pending`` (waiting for reviews), ``approved`` (by an allow rule, a quorum, or break-glass,
  then flagged), ``denied``, ``expired`` (pending past its timeout, or an approved grant past its
  ``grant_ttl_s``), ``cancelled`` (``DELETE``), ``redeemed`` (spent once by ``POST /v1/consume``).
- A pending or approved action that names a feature HOLDS its tokens (``held``), like a lease; every other
  status holds nothing. Redemption charges at most what it holds and releases the rest. So every hold ends
  exactly once: redeemed, or released (denied, expired, cancelled).
- Reviews: one per approver key; the requester never reviews its own action; one deny denies; ``quorum``
  distinct approvals approve. The approvers are the keys and roles the rule names; from ``escalates_at``
  on, the ``escalate_to`` set may review too, and its reviews count toward the same quorum.
- Time is enforced when read: ``due_change`` says what the clock alone changes (escalation, expiry, a
  grant lapsing); every reader applies it before acting, and the sweeper applies it to what is due.
- Every change says which decision records (the hash-chained log) and which outbox events go with it;
  the store writes them in the one transaction of the change, conditioned on the version read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tollgate.core.errors import Conflict, Forbidden, InvalidField

DEFAULT_GRANT_TTL_S = 600  # an approval holds its tokens this long unless the rule says otherwise
SYSTEM_ACTOR = "system:clock"  # who escalates and expires: time itself, applied by a reader or the sweeper


class ActionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REDEEMED = "redeemed"


HOLDING = frozenset({ActionStatus.PENDING, ActionStatus.APPROVED})


class ReviewDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


class ActionResolved(Conflict):
    """The action is no longer pending (approved, denied, expired, cancelled or redeemed): no more reviews."""

    code = "ACTION_RESOLVED"


class AlreadyReviewed(Conflict):
    """This approver has already reviewed the action."""

    code = "ALREADY_REVIEWED"


class SelfReview(Forbidden):
    """The requester never reviews its own action."""

    code = "SELF_REVIEW"


class NotAnApprover(Forbidden):
    """The caller is not one of the approvers the action's rule names (or not yet: before escalation)."""

    code = "NOT_AN_APPROVER"


class ActionNotApproved(Conflict):
    """Only an approved action can be redeemed (this one is pending, denied, cancelled, or already redeemed)."""

    code = "ACTION_NOT_APPROVED"


class GrantExpired(Conflict):
    """The approval was granted, but its ``grant_ttl_s`` has passed: the hold was released; ask again."""

    code = "GRANT_EXPIRED"


@dataclass(frozen=True)
class Approvers:
    """Who may review: API keys by id, or by role."""

    roles: frozenset[str] = frozenset()
    api_key_ids: frozenset[str] = frozenset()

    def include(self, key_id: str, role: str | None) -> bool:
        return key_id in self.api_key_ids or (role is not None and role in self.roles)

    def as_dict(self) -> dict[str, list[str]]:
        return {"roles": sorted(self.roles), "api_key_ids": sorted(self.api_key_ids)}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> Approvers:
        value = value or {}
        return cls(frozenset(value.get("roles") or ()), frozenset(value.get("api_key_ids") or ()))


@dataclass(frozen=True)
class ApprovalTerms:
    """The rule's approval terms as they were when the action was asked for (a later policy change does not
    move the goalposts of an action already pending)."""

    approvers: Approvers
    quorum: int = 1
    timeout_s: int = 3600
    grant_ttl_s: int = DEFAULT_GRANT_TTL_S
    escalate_after_s: int | None = None
    escalate_to: Approvers | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "approvers": self.approvers.as_dict(),
            "quorum": self.quorum,
            "timeout_s": self.timeout_s,
            "grant_ttl_s": self.grant_ttl_s,
            "escalate_after_s": self.escalate_after_s,
            "escalate_to": None if self.escalate_to is None else self.escalate_to.as_dict(),
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> ApprovalTerms:
        escalate_to = value.get("escalate_to")
        escalate_after = value.get("escalate_after_s")
        return cls(
            approvers=Approvers.from_dict(value.get("approvers")),
            quorum=int(value.get("quorum", 1)),
            timeout_s=int(value.get("timeout_s", 3600)),
            grant_ttl_s=int(value.get("grant_ttl_s", DEFAULT_GRANT_TTL_S)),
            escalate_after_s=None if escalate_after is None else int(escalate_after),
            escalate_to=None if escalate_to is None else Approvers.from_dict(escalate_to),
        )


@dataclass(frozen=True)
class Reviewer:
    """An API key reviewing an action."""

    key_id: str
    role: str | None

    @property
    def actor(self) -> str:
        return f"api_key:{self.key_id}"


@dataclass(frozen=True)
class Review:
    key_id: str
    role: str | None
    decision: ReviewDecision
    comment: str
    at: int
    escalation: bool = False  # reviewed as one of ``escalate_to`` (not of the first approvers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "role": self.role,
            "decision": self.decision.value,
            "comment": self.comment,
            "at": self.at,
            "escalation": self.escalation,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Review:
        return cls(
            key_id=str(value["key_id"]),
            role=value.get("role"),
            decision=ReviewDecision(value["decision"]),
            comment=str(value.get("comment") or ""),
            at=int(value["at"]),
            escalation=bool(value.get("escalation", False)),
        )


@dataclass(frozen=True)
class Action:
    id: str
    tenant_id: str
    name: str  # the action asked for ("deploy", "run", …)
    requester: str  # the actor that asked: "license_key:lk_…" or "api_key:ak_…"
    status: ActionStatus
    created_at: int
    rule_id: str | None  # None: the policy's default effect decided
    policy_version: int
    feature: str | None = None
    quantity: int = 0
    cost_per_use: int = 0  # the feature's cost when asked: a redemption is charged at this price
    held: int = 0  # tokens held now (pending or approved with a feature), else 0
    charged: int = 0  # tokens the redemption charged
    project_id: str | None = None
    environment: str | None = None
    region: str | None = None
    reason: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    terms: ApprovalTerms | None = None  # for require_approval; None for allow and deny
    expires_at: int | None = None  # pending: the timeout
    escalates_at: int | None = None
    escalated: bool = False
    grant_expires_at: int | None = None  # approved: redeem before this, or the hold is released
    reviews: tuple[Review, ...] = ()
    break_glass: bool = False
    resolved_at: int | None = None
    entry_id: str | None = None  # the ledger entry of the redemption
    idempotency_key: str | None = None
    version: int = 0  # every change increments it; writes are conditioned on the version read

    @property
    def tokens(self) -> int:
        """What the action costs in full (and holds while it is open)."""
        return self.quantity * self.cost_per_use

    @property
    def approvals(self) -> int:
        return len({r.key_id for r in self.reviews if r.decision is ReviewDecision.APPROVE})

    @property
    def quorum(self) -> int | None:
        return None if self.terms is None else self.terms.quorum

    def due_at(self) -> int | None:
        """When the clock alone changes this action next (the sweeper's ``by_due`` entry), or None."""
        if self.status is ActionStatus.PENDING:
            ends = [self.expires_at] if self.expires_at is not None else []
            if self.escalates_at is not None and not self.escalated:
                ends.append(self.escalates_at)
            return min(ends, default=None)
        if self.status is ActionStatus.APPROVED:
            return self.grant_expires_at
        return None

    def escalation_open(self, now: int) -> bool:
        return self.escalated or (self.escalates_at is not None and now >= self.escalates_at)


@dataclass(frozen=True)
class Record:
    """A decision-log record the change appends: what happened (``event``) and who did it."""

    event: str
    actor: str


@dataclass(frozen=True)
class Notice:
    """An outbox event the change emits."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ActionChange:
    before: Action | None  # None: the action is new
    after: Action
    now: int
    records: tuple[Record, ...] = ()
    notices: tuple[Notice, ...] = ()

    @property
    def hold_change(self) -> int:
        return self.after.held - (0 if self.before is None else self.before.held)

    @property
    def charge(self) -> int:
        return self.after.charged - (0 if self.before is None else self.before.charged)


def summary(action: Action) -> dict[str, Any]:
    """What an outbox event says about the action."""
    data: dict[str, Any] = {
        "action_id": action.id,
        "action": action.name,
        "status": action.status.value,
        "requester": action.requester,
        "rule_id": action.rule_id,
        "feature": action.feature,
        "tokens": action.tokens,
        "project_id": action.project_id,
        "environment": action.environment,
    }
    if action.terms is not None:
        data["approvers"] = action.terms.approvers.as_dict()
        data["quorum"] = action.terms.quorum
        data["approvals"] = action.approvals
        data["expires_at"] = action.expires_at
        data["escalates_at"] = action.escalates_at
    if action.break_glass:
        data["break_glass"] = True
    return data


def _next(action: Action, **changes: Any) -> Action:
    return replace(action, version=action.version + 1, **changes)


# --- asking ---------------------------------------------------------------------------------------------


def allowed(action: Action, grant_ttl_s: int, now: int) -> ActionChange:
    """An allow rule (or the default) approves at once; the tokens are held for ``grant_ttl_s``."""
    after = replace(
        action,
        status=ActionStatus.APPROVED,
        held=action.tokens,
        grant_expires_at=now + grant_ttl_s,
        resolved_at=now,
    )
    return ActionChange(None, after, now, (Record("action.allowed", action.requester),))


def refused(action: Action, now: int) -> ActionChange:
    """A deny rule refuses it: recorded (the log and an idempotent answer), nothing held."""
    after = replace(action, status=ActionStatus.DENIED, held=0, resolved_at=now)
    return ActionChange(
        None, after, now, (Record("action.denied", action.requester),), (Notice("action.denied", summary(after)),)
    )


def pending(action: Action, terms: ApprovalTerms, now: int) -> ActionChange:
    """A require_approval rule sends it to approvers; the tokens are held until it is resolved."""
    after = replace(
        action,
        status=ActionStatus.PENDING,
        terms=terms,
        held=action.tokens,
        expires_at=now + terms.timeout_s,
        escalates_at=None if terms.escalate_after_s is None else now + terms.escalate_after_s,
    )
    return ActionChange(
        None, after, now, (Record("action.pending", action.requester),), (Notice("action.pending", summary(after)),)
    )


def broke_glass(action: Action, terms: ApprovalTerms, now: int) -> ActionChange:
    """Break-glass: approved at once, flagged; the approvers are told, to review after the fact."""
    after = replace(
        action,
        status=ActionStatus.APPROVED,
        terms=terms,
        held=action.tokens,
        break_glass=True,
        grant_expires_at=now + terms.grant_ttl_s,
        resolved_at=now,
    )
    return ActionChange(
        None,
        after,
        now,
        (Record("action.break_glass", action.requester),),
        (Notice("action.approved", summary(after)),),
    )


# --- time -----------------------------------------------------------------------------------------------


def due_change(action: Action, now: int) -> ActionChange | None:
    """What the clock alone changes by ``now``: expiry (pending past its timeout), escalation (pending past
    ``escalates_at``), a grant lapsing (approved past ``grant_expires_at``). None when nothing is due."""
    if action.status is ActionStatus.PENDING:
        if action.expires_at is not None and now >= action.expires_at:
            after = _next(action, status=ActionStatus.EXPIRED, held=0, resolved_at=now)
            return ActionChange(
                action,
                after,
                now,
                (Record("action.expired", SYSTEM_ACTOR),),
                (Notice("action.expired", summary(after)),),
            )
        if action.escalates_at is not None and not action.escalated and now >= action.escalates_at:
            after = _next(action, escalated=True)
            data = summary(after)
            if action.terms is not None and action.terms.escalate_to is not None:
                data["escalate_to"] = action.terms.escalate_to.as_dict()
            return ActionChange(
                action,
                after,
                now,
                (Record("action.escalated", SYSTEM_ACTOR),),
                (Notice("action.escalated", data),),
            )
    if (
        action.status is ActionStatus.APPROVED
        and action.grant_expires_at is not None
        and now >= action.grant_expires_at
    ):
        after = _next(action, status=ActionStatus.EXPIRED, held=0)
        data = summary(after) | {"grant_lapsed": True}
        return ActionChange(
            action, after, now, (Record("action.grant_lapsed", SYSTEM_ACTOR),), (Notice("action.expired", data),)
        )
    return None


def as_of(action: Action, now: int) -> Action:
    """The action as the clock has it at ``now`` (for answers that do not write)."""
    for _ in range(3):
        change = due_change(action, now)
        if change is None:
            break
        action = change.after
    return action


# --- reviews --------------------------------------------------------------------------------------------


def reviewer_set(action: Action, reviewer: Reviewer, now: int) -> str | None:
    """``"approvers"`` or ``"escalation"`` when the reviewer may review the action (by the rule's terms and
    the clock), else None. Says nothing about status, self-review or a second review."""
    terms = action.terms
    if terms is None:
        return None
    if terms.approvers.include(reviewer.key_id, reviewer.role):
        return "approvers"
    if (
        terms.escalate_to is not None
        and action.escalation_open(now)
        and terms.escalate_to.include(reviewer.key_id, reviewer.role)
    ):
        return "escalation"
    return None


def may_review(action: Action, reviewer: Reviewer, now: int) -> bool:
    """Whether a review by ``reviewer`` would be taken now (the approver's queue)."""
    current = as_of(action, now)
    return (
        current.status is ActionStatus.PENDING
        and current.requester != reviewer.actor
        and all(r.key_id != reviewer.key_id for r in current.reviews)
        and reviewer_set(current, reviewer, now) is not None
    )


def reviewed(action: Action, reviewer: Reviewer, decision: ReviewDecision, comment: str, now: int) -> ActionChange:
    """A review of a pending action on which nothing is due (apply ``due_change`` first). One deny denies;
    the quorum of distinct approvals approves; anything else adds the review."""
    if action.status is not ActionStatus.PENDING:
        raise ActionResolved(f"action {action.id} is {action.status.value}; it takes no more reviews")
    if action.requester == reviewer.actor:
        raise SelfReview("the requester may not review its own action")
    which = reviewer_set(action, reviewer, now)
    if which is None:
        raise NotAnApprover("this API key is not one of the approvers of this action's rule")
    if any(r.key_id == reviewer.key_id for r in action.reviews):
        raise AlreadyReviewed("this API key has already reviewed this action")
    review = Review(reviewer.key_id, reviewer.role, decision, comment, now, escalation=which == "escalation")
    reviews = (*action.reviews, review)
    record = Record(f"review.{decision.value}", reviewer.actor)
    if decision is ReviewDecision.DENY:
        after = _next(action, status=ActionStatus.DENIED, reviews=reviews, held=0, resolved_at=now)
        return ActionChange(
            action,
            after,
            now,
            (record, Record("action.denied", reviewer.actor)),
            (Notice("action.denied", summary(after)),),
        )
    after = _next(action, reviews=reviews)
    assert action.terms is not None  # reviewer_set found a set
    if after.approvals >= action.terms.quorum:
        after = replace(
            after, status=ActionStatus.APPROVED, grant_expires_at=now + action.terms.grant_ttl_s, resolved_at=now
        )
        return ActionChange(
            action,
            after,
            now,
            (record, Record("action.approved", reviewer.actor)),
            (Notice("action.approved", summary(after)),),
        )
    return ActionChange(action, after, now, (record,))


# --- the requester's side ---------------------------------------------------------------------------------


def cancelled(action: Action, actor: str, now: int) -> ActionChange:
    """``DELETE``: a pending or approved (not yet redeemed) action ends; its hold is released."""
    if action.status not in HOLDING:
        raise ActionResolved(f"action {action.id} is {action.status.value}; there is nothing to cancel")
    after = _next(action, status=ActionStatus.CANCELLED, held=0, resolved_at=action.resolved_at or now)
    return ActionChange(action, after, now, (Record("action.cancelled", actor),))


def redeemed(action: Action, feature: str, quantity: int, actor: str, entry_id: str, now: int) -> ActionChange:
    """``POST /v1/consume {feature, quantity, action_id}``: an approved action is spent once, charged from its
    hold at the price it was asked at; the rest of the hold is released. Apply ``due_change`` first."""
    if action.status is ActionStatus.EXPIRED and action.grant_expires_at is not None:
        raise GrantExpired(f"the approval of action {action.id} lapsed; its hold was released. Ask again")
    if action.status is not ActionStatus.APPROVED:
        raise ActionNotApproved(f"action {action.id} is {action.status.value}; only an approved action is redeemed")
    if action.feature is None or feature != action.feature:
        raise InvalidField("feature", f"action {action.id} was approved for feature {action.feature}, not {feature}")
    if quantity > action.quantity:
        raise InvalidField("quantity", f"action {action.id} was approved for at most {action.quantity} uses")
    charge = quantity * action.cost_per_use
    after = _next(action, status=ActionStatus.REDEEMED, held=0, charged=charge, entry_id=entry_id)
    return ActionChange(action, after, now, (Record("action.redeemed", actor),))
