"""A tenant's action policy and how it decides a request. Pure and light: the usage function's consume
path evaluates it on every call, so this module imports no pydantic, no AWS library and no expression
engine (a CEL ``condition`` loads ``tollgate.approvals.rules_conditions``, and it celpy, only when a rule has one).

The rules (SPEC.md, "Approvals"; docs/decisions.md, "Policy evaluation"):

- Rules are tried in order; the first whose ``match`` fields all hold, and whose ``condition`` (if any)
  is true, decides. No rule matches: ``default_effect`` (``allow`` when unset).
- A match field that is absent or empty matches anything. A listed field matches when the request's value
  is one of the listed values; a request without that value (no feature, no project…) does not match a
  rule that lists some. ``actions`` take ``*`` globs (``deploy.*``); nothing else is a wildcard.
- ``min_tokens`` and ``max_tokens`` are inclusive.
- ``schedule``: ``days`` (mon…sun, all when absent), ``from`` (inclusive) and ``to`` (exclusive) as HH:MM
  in the IANA ``timezone``. ``from`` after ``to`` is an overnight range: it starts on one of ``days`` and
  runs past midnight into the next day (``fri 22:00–06:00`` holds on Saturday at 03:00, not on Friday at
  03:00). ``from`` equal to ``to`` is refused when the policy is written.
- A ``condition`` that cannot be evaluated (an error, or a value that is not a boolean) never allows: the
  request is denied by that rule (fail closed), and the decision says so (``condition_error``).
- Spending routes are evaluated as the actions ``consume``, ``lease`` and ``allowance``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_GRANT_TTL_S = 600
SPENDING_ACTIONS = ("consume", "lease", "allowance")
KeyKind = Literal["license", "api"]


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


@dataclass(frozen=True)
class Principals:
    """Who may review (or break the glass): API keys by role or by id; break-glass may also name license
    keys by id."""

    roles: tuple[str, ...] = ()
    api_key_ids: tuple[str, ...] = ()
    license_key_ids: tuple[str, ...] = ()

    def includes(self, key_id: str, role: str | None) -> bool:
        return key_id in self.api_key_ids or key_id in self.license_key_ids or (role is not None and role in self.roles)


@dataclass(frozen=True)
class Approval:
    approvers: Principals
    quorum: int
    timeout_s: int
    grant_ttl_s: int = DEFAULT_GRANT_TTL_S
    escalate_after_s: int | None = None
    escalate_to: Principals | None = None


@dataclass(frozen=True)
class Schedule:
    days: tuple[str, ...]  # a subset of DAYS; all of them when the rule named none
    start: str  # "HH:MM", inclusive ("from" in the document)
    end: str  # "HH:MM", exclusive ("to")
    timezone: str  # IANA

    def holds(self, now: int) -> bool:
        local = datetime.fromtimestamp(now, UTC).astimezone(_zone(self.timezone))
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.start), _minutes(self.end)
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        if start < end:
            return today in self.days and start <= minute < end
        # overnight: from `start` on one of `days` until `end` the next morning
        return (today in self.days and minute >= start) or (yesterday in self.days and minute < end)


@dataclass(frozen=True)
class Match:
    actions: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    min_tokens: int | None = None
    max_tokens: int | None = None
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    effect: Effect
    match: Match = field(default_factory=Match)
    description: str | None = None
    condition: str | None = None
    approval: Approval | None = None
    break_glass: Principals | None = None


@dataclass(frozen=True)
class Policy:
    version: int = 0
    default_effect: Effect = Effect.ALLOW
    rules: tuple[Rule, ...] = ()

    @property
    def has_conditions(self) -> bool:
        return any(rule.condition for rule in self.rules)


@dataclass(frozen=True)
class ActionRequest:
    """What is asked: an action (or a spend, as ``consume``/``lease``/``allowance``) and its context."""

    action: str
    key_id: str
    key_kind: KeyKind
    role: str | None = None  # an API key's role; None for a license key
    feature: str | None = None
    tokens: int = 0
    project_id: str | None = None
    environment: str | None = None
    region: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleTrace:
    """How one rule fared: each match field it has and whether it held, and the condition's value."""

    rule_id: str
    matched: bool
    fields: tuple[tuple[str, bool], ...]
    condition: bool | None = None  # None: the rule has no condition, or it was not reached
    condition_error: str | None = None


@dataclass(frozen=True)
class Decision:
    effect: Effect
    rule_id: str | None  # None: no rule matched, the default decided
    policy_version: int
    approval: Approval | None = None
    break_glass_allowed: bool = False
    matched_fields: tuple[str, ...] = ()  # the deciding rule's match fields (all held)
    condition: bool | None = None
    condition_error: str | None = None
    trace: tuple[RuleTrace, ...] = ()


def evaluate(policy: Policy, request: ActionRequest, now: int) -> Decision:
    """The decision of ``policy`` on ``request`` at ``now`` (seconds since the epoch, UTC)."""
    traces: list[RuleTrace] = []
    for rule in policy.rules:
        checks = _field_checks(rule.match, request, now)
        if not all(held for _, held in checks):
            traces.append(RuleTrace(rule.id, False, checks))
            continue
        value: bool | None = None
        if rule.condition:
            from tollgate.approvals.rules_conditions import ConditionError, evaluate_condition  # celpy loads here

            try:
                value = evaluate_condition(rule.condition, condition_variables(request, now))
            except ConditionError as error:
                trace = RuleTrace(rule.id, True, checks, None, str(error))
                traces.append(trace)
                return Decision(
                    Effect.DENY,
                    rule.id,
                    policy.version,
                    matched_fields=tuple(name for name, _ in checks),
                    condition_error=str(error),
                    trace=tuple(traces),
                )
            if not value:
                traces.append(RuleTrace(rule.id, False, checks, False))
                continue
        traces.append(RuleTrace(rule.id, True, checks, value))
        breaks = (
            rule.effect is Effect.REQUIRE_APPROVAL
            and rule.break_glass is not None
            and rule.break_glass.includes(request.key_id, request.role)
        )
        return Decision(
            rule.effect,
            rule.id,
            policy.version,
            approval=rule.approval if rule.effect is Effect.REQUIRE_APPROVAL else None,
            break_glass_allowed=breaks,
            matched_fields=tuple(name for name, _ in checks),
            condition=value,
            trace=tuple(traces),
        )
    return Decision(policy.default_effect, None, policy.version, trace=tuple(traces))


def _field_checks(match: Match, request: ActionRequest, now: int) -> tuple[tuple[str, bool], ...]:
    checks: list[tuple[str, bool]] = []
    if match.actions:
        checks.append(("actions", any(glob_matches(pattern, request.action) for pattern in match.actions)))
    for name, listed, value in (
        ("features", match.features, request.feature),
        ("projects", match.projects, request.project_id),
        ("environments", match.environments, request.environment),
        ("regions", match.regions, request.region),
    ):
        if listed:
            checks.append((name, value is not None and value in listed))
    if match.min_tokens is not None:
        checks.append(("min_tokens", request.tokens >= match.min_tokens))
    if match.max_tokens is not None:
        checks.append(("max_tokens", request.tokens <= match.max_tokens))
    if match.schedule is not None:
        checks.append(("schedule", match.schedule.holds(now)))
    return tuple(checks)


def condition_variables(request: ActionRequest, now: int) -> dict[str, Any]:
    """The variables a condition sees (SPEC.md): plain JSON-like values; ``now`` in seconds since the epoch
    (``tollgate.approvals.rules_conditions`` makes it a CEL timestamp)."""
    return {
        "action": request.action,
        "feature": request.feature,
        "tokens": request.tokens,
        "project": request.project_id,
        "environment": request.environment,
        "region": request.region,
        "attributes": dict(request.attributes),
        "key": {"id": request.key_id, "kind": request.key_kind, "role": request.role},
        "now": now,
    }


def glob_matches(pattern: str, text: str) -> bool:
    """Whether ``text`` is ``pattern``, where ``*`` matches any run of characters (dots included) and every
    other character is itself. Without backtracking (a regex would try every split of the text among the
    stars: seconds for ``*a*a*a*a*a*a*b`` against 64 a's): the text must start with what precedes the first
    star and end with what follows the last, and each part between stars is placed at its leftmost place
    after the previous one. Leftmost is always right when the only wildcard is ``*`` (a later place leaves
    less room for the parts after it and gains nothing), so one pass over the text decides."""
    if "*" not in pattern:
        return pattern == text
    first, *middle, last = pattern.split("*")
    if len(first) + len(last) > len(text) or not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for part in middle:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


# ---------------------------------------------------------------------------------------------- documents
# The stored form of a policy is the document PUT accepted (validated then, by the portal's models and
# ``tollgate.approvals.service_policy``); reading it back trusts that validation and only maps it to values.


def policy_from_document(version: int, document: Mapping[str, Any]) -> Policy:
    rules = tuple(_rule(raw) for raw in document.get("rules") or ())
    return Policy(version, Effect(document.get("default_effect") or Effect.ALLOW), rules)


def _principals(raw: Mapping[str, Any] | None) -> Principals | None:
    if raw is None:
        return None
    return Principals(
        tuple(raw.get("roles") or ()), tuple(raw.get("api_key_ids") or ()), tuple(raw.get("license_key_ids") or ())
    )


def _rule(raw: Mapping[str, Any]) -> Rule:
    match = raw.get("match") or {}
    schedule = match.get("schedule")
    approval = raw.get("approval")
    return Rule(
        id=str(raw["id"]),
        effect=Effect(raw["effect"]),
        description=raw.get("description"),
        condition=raw.get("condition"),
        match=Match(
            actions=tuple(match.get("actions") or ()),
            features=tuple(match.get("features") or ()),
            projects=tuple(match.get("projects") or ()),
            environments=tuple(match.get("environments") or ()),
            regions=tuple(match.get("regions") or ()),
            min_tokens=match.get("min_tokens"),
            max_tokens=match.get("max_tokens"),
            schedule=None
            if schedule is None
            else Schedule(tuple(schedule.get("days") or DAYS), schedule["from"], schedule["to"], schedule["timezone"]),
        ),
        approval=None
        if approval is None
        else Approval(
            approvers=_principals(approval["approvers"]) or Principals(),
            quorum=int(approval["quorum"]),
            timeout_s=int(approval["timeout_s"]),
            grant_ttl_s=int(approval.get("grant_ttl_s") or DEFAULT_GRANT_TTL_S),
            escalate_after_s=approval.get("escalate_after_s"),
            escalate_to=_principals(approval.get("escalate_to")),
        ),
        break_glass=_principals(raw.get("break_glass")),
    )


def policy_document(policy: Policy) -> dict[str, Any]:
    """The policy as its JSON document (what GET answers and what is stored), without the version."""
    return {"default_effect": policy.default_effect.value, "rules": [_rule_document(rule) for rule in policy.rules]}


def _principals_document(principals: Principals, license_keys: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {"roles": list(principals.roles), "api_key_ids": list(principals.api_key_ids)}
    if license_keys:
        document["license_key_ids"] = list(principals.license_key_ids)
    return document


def _rule_document(rule: Rule) -> dict[str, Any]:
    match: dict[str, Any] = {}
    for name in ("actions", "features", "projects", "environments", "regions"):
        values = getattr(rule.match, name)
        if values:
            match[name] = list(values)
    for name in ("min_tokens", "max_tokens"):
        if getattr(rule.match, name) is not None:
            match[name] = getattr(rule.match, name)
    if rule.match.schedule is not None:
        schedule = rule.match.schedule
        match["schedule"] = {
            "days": list(schedule.days),
            "from": schedule.start,
            "to": schedule.end,
            "timezone": schedule.timezone,
        }
    document: dict[str, Any] = {"id": rule.id, "effect": rule.effect.value, "match": match}
    if rule.description is not None:
        document["description"] = rule.description
    if rule.condition is not None:
        document["condition"] = rule.condition
    if rule.approval is not None:
        approval = rule.approval
        approval_document: dict[str, Any] = {
            "approvers": _principals_document(approval.approvers),
            "quorum": approval.quorum,
            "timeout_s": approval.timeout_s,
            "grant_ttl_s": approval.grant_ttl_s,
        }
        if approval.escalate_after_s is not None:
            approval_document["escalate_after_s"] = approval.escalate_after_s
        if approval.escalate_to is not None:
            approval_document["escalate_to"] = _principals_document(approval.escalate_to)
        document["approval"] = approval_document
    if rule.break_glass is not None:
        document["break_glass"] = _principals_document(rule.break_glass, license_keys=True)
    return document
