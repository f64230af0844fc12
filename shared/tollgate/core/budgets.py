"""Budget levels, as plain values: which levels a spend is charged against, and the calendar of a monthly
period (UTC). Below the kernel, which stores them; the grammar of a budget's scope string lives here too,
since the kernel names the refusing level by it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import NamedTuple

TENANT_SCOPE = "tenant"
ENVIRONMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
PERIODS = ("none", "month")


class Levels(NamedTuple):
    """The budget levels below the tenant that a spend or a hold is charged against (the tenant's own level,
    kept on the pool item, always applies). ``environment`` counts only within a project and only when its
    name is one a budget can be set for."""

    project_id: str | None = None
    environment: str | None = None
    key_id: str | None = None  # a license key's id (API keys have no key level)

    @property
    def environment_scope(self) -> str | None:
        if self.project_id is None or self.environment is None or not ENVIRONMENT_NAME.match(self.environment):
            return None
        return environment_scope(self.project_id, self.environment)

    @property
    def key_scope(self) -> str | None:
        return None if self.key_id is None else key_scope(self.key_id)


NO_LEVELS = Levels()


def project_scope(project_id: str) -> str:
    return f"project:{project_id}"


def environment_scope(project_id: str, name: str) -> str:
    return f"environment:{project_id}:{name}"


def key_scope(key_id: str) -> str:
    return f"key:{key_id}"


def month_start(now: int) -> int:
    """The start (epoch seconds) of the UTC calendar month that ``now`` falls in."""
    at = datetime.fromtimestamp(now, UTC)
    return int(datetime(at.year, at.month, 1, tzinfo=UTC).timestamp())


def next_month_start(now: int) -> int:
    at = datetime.fromtimestamp(now, UTC)
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def month_key(now: int) -> str:
    """``YYYY-MM`` of the UTC month ``now`` falls in (period keys of refills and top-ups)."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def levels_for(project_id: str | None, environment: str | None, actor: str) -> Levels:
    """The levels a spend or hold by ``actor`` (``license_key:<id>`` or ``api_key:<id>``) is charged against."""
    key_id = actor.removeprefix("license_key:") if actor.startswith("license_key:") else None
    return Levels(project_id, environment, key_id or None)
