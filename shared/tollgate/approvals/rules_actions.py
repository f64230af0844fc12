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

from dataclasses import replace
from typing import Any

from tollgate.approvals.rules_action_records import (
    DEFAULT_GRANT_TTL_S,
    HOLDING,
    SYSTEM_ACTOR,
    Action,
    ActionChange,
    ActionNotApproved,
    ActionResolved,
    ActionStatus,
    AlreadyReviewed,
    ApprovalTerms,
    Approvers,
    GrantExpired,
    NotAnApprover,
    Notice,
    Record,
    Review,
    ReviewDecision,
    Reviewer,
    SelfReview,
    summary,
)
from tollgate.core.errors import InvalidField

__all__ = [
    "DEFAULT_GRANT_TTL_S",
    "HOLDING",
    "SYSTEM_ACTOR",
    "Action",
    "ActionChange",
    "ActionNotApproved",
    "ActionResolved",
    "ActionStatus",
    "AlreadyReviewed",
    "ApprovalTerms",
    "Approvers",
    "GrantExpired",
    "NotAnApprover",
    "Notice",
    "Record",
    "Review",
    "ReviewDecision",
    "Reviewer",
    "SelfReview",
    "summary",
]


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
