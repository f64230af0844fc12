"""Budgets at four levels (SPEC.md, "Budgets, top-ups and refills"): the grammar of a budget's scope and what
a level shows. Pure: no AWS, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tollgate.core import limits
from tollgate.core.budgets import ENVIRONMENT_NAME, TENANT_SCOPE, next_month_start
from tollgate.core.errors import InvalidField, NotFound


class LevelKind(str, Enum):
    TENANT = "tenant"
    PROJECT = "project"
    ENVIRONMENT = "environment"
    KEY = "key"


@dataclass(frozen=True)
class Scope:
    """A parsed scope: ``tenant``, ``project:<project_id>``, ``environment:<project_id>:<name>`` or
    ``key:<key_id>``."""

    kind: LevelKind
    project_id: str | None = None
    environment: str | None = None
    key_id: str | None = None

    def __str__(self) -> str:
        if self.kind is LevelKind.TENANT:
            return TENANT_SCOPE
        if self.kind is LevelKind.PROJECT:
            return f"project:{self.project_id}"
        if self.kind is LevelKind.ENVIRONMENT:
            return f"environment:{self.project_id}:{self.environment}"
        return f"key:{self.key_id}"


def parse_scope(text: str) -> Scope:
    """The scope a path names; an id of the wrong shape is not found (404), a malformed scope a 422."""
    kind, _, rest = text.partition(":")
    if kind == LevelKind.TENANT.value and not rest:
        return Scope(LevelKind.TENANT)
    if kind == LevelKind.PROJECT.value and rest:
        return Scope(LevelKind.PROJECT, project_id=_id(rest, "pj", "project"))
    if kind == LevelKind.ENVIRONMENT.value:
        project_id, _, name = rest.partition(":")
        if not ENVIRONMENT_NAME.match(name):
            raise InvalidField("scope", "an environment's name matches ^[a-z0-9][a-z0-9-]{0,31}$")
        return Scope(LevelKind.ENVIRONMENT, project_id=_id(project_id, "pj", "project"), environment=name)
    if kind == LevelKind.KEY.value and rest:
        return Scope(LevelKind.KEY, key_id=_id(rest, "lk", "license key"))
    raise InvalidField("scope", "tenant, project:<project_id>, environment:<project_id>:<name> or key:<key_id>")


def _id(value: str, prefix: str, kind: str) -> str:
    if not limits.is_id(value, prefix):
        raise NotFound(f"no such {kind}")
    return value


def check_limit(limit: object, period: object) -> bool:
    """Whether the period is monthly; refuses a limit out of 0…10^15 or an unknown period."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= limits.MAX_TOKENS:
        raise InvalidField("limit", f"must be an integer from 0 to {limits.MAX_TOKENS}")
    if period not in ("none", "month"):
        raise InvalidField("period", "none or month")
    return period == "month"


@dataclass(frozen=True)
class Budget:
    """One level as shown: ``used + held + left == limit`` (``left`` below 0 only after a limit was lowered
    under what was already committed)."""

    scope: str
    limit: int
    period: str  # none or month
    used: int
    held: int
    left: int
    resets_at: int | None


def budget_of(scope: str, limit: int, monthly: bool, spent: int, committed: int, now: int) -> Budget:
    held = committed - spent
    resets_at = next_month_start(now) if monthly else None
    return Budget(scope, limit, "month" if monthly else "none", spent, held, limit - committed, resets_at)


ORDER = {LevelKind.TENANT.value: 0, LevelKind.PROJECT.value: 1, LevelKind.ENVIRONMENT.value: 2, LevelKind.KEY.value: 3}


def ordered(budgets: list[Budget]) -> list[Budget]:
    """Tenant first, then projects, environments and keys, each by scope."""
    return sorted(budgets, key=lambda b: (ORDER.get(b.scope.split(":", 1)[0], 9), b.scope))
