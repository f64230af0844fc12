"""Typed results: what the service answered, as frozen dataclasses with ``datetime`` values (timezone-aware,
UTC) for every time. Built with ``from_api`` from the JSON the service sends; fields the service adds later
are kept in ``raw`` and ignored otherwise, so a newer server does not break an older SDK.

Records read like the dicts of version 0.1 for a while: ``record["charged"]`` still answers (the raw JSON
value) with a ``DeprecationWarning``; use the attribute (``record.charged``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tollgate_sdk.errors import APIError


def parse_time(value: Any) -> datetime | None:
    """A time from the service as an aware UTC ``datetime``: ISO-8601 (``2027-01-15T08:10:00Z``, or with an
    offset) or epoch seconds; ``None`` for none. Anything else is an ``APIError`` (the answer is not what
    the contract says), never a naive datetime."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise APIError(f"the service answered {value!r} for a time")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise APIError(f"the service answered {value!r} for a time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)  # the API's times are UTC
        return parsed.astimezone(timezone.utc)
    raise APIError(f"the service answered {value!r} for a time")


def _int(value: Any, default: int = 0) -> int:
    return default if value is None else int(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class _Record:
    """The 0.1 dict reading of a record, kept for a while."""

    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, name: str) -> Any:
        warnings.warn(
            f"{type(self).__name__}[{name!r}] is deprecated: read the attribute (times are datetimes there)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.raw[name]

    def get(self, name: str, default: Any = None) -> Any:
        warnings.warn(
            f"{type(self).__name__}.get({name!r}) is deprecated: read the attribute",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.raw.get(name, default)


def _mapping(answer: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(answer, Mapping):
        raise APIError(f"the service answered without {what}")
    return answer


@dataclass(frozen=True)
class LeaseRecord(_Record):
    """A lease as the service last described it. While open, ``expires_at`` moves with each heartbeat;
    once checked in, ``charged`` is final and ``ended_at`` set."""

    id: str = ""
    feature: str = ""
    status: str = ""
    started_at: datetime | None = None
    expires_at: datetime | None = None
    heartbeat_interval_s: int = 0
    cost_per_hour: int = 0
    reserved: int = 0
    charged: int | None = None
    ended_at: datetime | None = None
    project_id: str | None = None

    @classmethod
    def from_api(cls, answer: Any) -> LeaseRecord:
        data = _mapping(answer, "a lease")
        return cls(
            raw=dict(data),
            id=str(data["id"]),
            feature=str(data.get("feature", "")),
            status=str(data.get("status", "")),
            started_at=parse_time(data.get("started_at")),
            expires_at=parse_time(data.get("expires_at")),
            heartbeat_interval_s=_int(data.get("heartbeat_interval_s")),
            cost_per_hour=_int(data.get("cost_per_hour")),
            reserved=_int(data.get("reserved")),
            charged=_opt_int(data.get("charged")),
            ended_at=parse_time(data.get("ended_at")),
            project_id=_opt_str(data.get("project_id")),
        )


@dataclass(frozen=True)
class AllowanceRecord(_Record):
    """An allowance as the service last described it: ``held`` tokens may still be spent up to
    ``expires_at``; ``used`` is the last report of uses, ``charged`` what they (or its expiry) cost."""

    id: str = ""
    feature: str = ""
    status: str = ""
    cost_per_use: int = 0
    block: int = 0
    held: int = 0
    used: int = 0
    charged: int = 0
    opened_at: datetime | None = None
    expires_at: datetime | None = None
    ttl_s: int = 0
    project_id: str | None = None

    @classmethod
    def from_api(cls, answer: Any) -> AllowanceRecord:
        data = _mapping(answer, "an allowance")
        return cls(
            raw=dict(data),
            id=str(data["id"]),
            feature=str(data.get("feature", "")),
            status=str(data.get("status", "")),
            cost_per_use=_int(data.get("cost_per_use")),
            block=_int(data.get("block")),
            held=_int(data.get("held")),
            used=_int(data.get("used")),
            charged=_int(data.get("charged")),
            opened_at=parse_time(data.get("opened_at")),
            expires_at=parse_time(data.get("expires_at")),
            ttl_s=_int(data.get("ttl_s")),
            project_id=_opt_str(data.get("project_id")),
        )


@dataclass(frozen=True)
class Review:
    """One approver's review of an action."""

    key_id: str | None
    role: str | None
    decision: str
    comment: str | None
    at: datetime | None
    escalation: bool = False

    @classmethod
    def from_api(cls, answer: Any) -> Review:
        data = _mapping(answer, "a review")
        return cls(
            key_id=_opt_str(data.get("key_id")),
            role=_opt_str(data.get("role")),
            decision=str(data.get("decision", "")),
            comment=_opt_str(data.get("comment")),
            at=parse_time(data.get("at")),
            escalation=bool(data.get("escalation", False)),
        )


@dataclass(frozen=True)
class ActionRecord(_Record):
    """An action (just-in-time approval) as the service last described it."""

    id: str = ""
    action: str = ""
    status: str = ""
    rule_id: str | None = None
    policy_version: int | None = None
    requester: str | None = None
    feature: str | None = None
    quantity: int | None = None
    tokens: int = 0
    held: int = 0
    charged: int | None = None
    project_id: str | None = None
    environment: str | None = None
    region: str | None = None
    reason: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    quorum: int = 0
    approvals: int = 0
    escalated: bool = False
    reviews: tuple[Review, ...] = ()
    break_glass: bool = False
    created_at: datetime | None = None
    expires_at: datetime | None = None
    escalates_at: datetime | None = None
    grant_expires_at: datetime | None = None
    resolved_at: datetime | None = None
    entry_id: str | None = None

    @classmethod
    def from_api(cls, answer: Any) -> ActionRecord:
        data = _mapping(answer, "the action")
        return cls(
            raw=dict(data),
            id=str(data["id"]),
            action=str(data.get("action", "")),
            status=str(data.get("status", "")),
            rule_id=_opt_str(data.get("rule_id")),
            policy_version=_opt_int(data.get("policy_version")),
            requester=_opt_str(data.get("requester")),
            feature=_opt_str(data.get("feature")),
            quantity=_opt_int(data.get("quantity")),
            tokens=_int(data.get("tokens")),
            held=_int(data.get("held")),
            charged=_opt_int(data.get("charged")),
            project_id=_opt_str(data.get("project_id")),
            environment=_opt_str(data.get("environment")),
            region=_opt_str(data.get("region")),
            reason=_opt_str(data.get("reason")),
            attributes=dict(data.get("attributes") or {}),
            quorum=_int(data.get("quorum")),
            approvals=_int(data.get("approvals")),
            escalated=bool(data.get("escalated", False)),
            reviews=tuple(Review.from_api(review) for review in data.get("reviews") or ()),
            break_glass=bool(data.get("break_glass", False)),
            created_at=parse_time(data.get("created_at")),
            expires_at=parse_time(data.get("expires_at")),
            escalates_at=parse_time(data.get("escalates_at")),
            grant_expires_at=parse_time(data.get("grant_expires_at")),
            resolved_at=parse_time(data.get("resolved_at")),
            entry_id=_opt_str(data.get("entry_id")),
        )


@dataclass(frozen=True)
class Redemption:
    """What redeeming an approved action charged (out of its hold; the rest went back to the pool).
    ``idempotency_key`` is the key every attempt carried."""

    action_id: str
    charged: int
    entry_id: str
    idempotency_key: str
    balance_after: int | None = None  # absent from the minimal answer the SDK asks for

    def __getitem__(self, name: str) -> Any:
        """The 0.1 dict reading (``redemption["charged"]``), kept for a while."""
        warnings.warn(f"Redemption[{name!r}] is deprecated: read the attribute", DeprecationWarning, stacklevel=2)
        return getattr(self, name)
