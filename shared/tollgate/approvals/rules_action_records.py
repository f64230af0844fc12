"""The records of an action (statuses, terms, reviews, the action itself, the change a transition makes) and
the errors its transitions raise. Pure: no store, no clock. The transitions are in ``rules_actions``, which
re-exports these names so that ``act.Action`` and ``act.reviewed`` read as one vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tollgate.core.errors import Conflict, Forbidden

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
