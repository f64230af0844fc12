"""Projects: how a tenant splits its pool between teams and environments, with an optional budget."""

from __future__ import annotations

from typing import Protocol

from tollgate.core import limits
from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField
from tollgate.core.ids import IdGenerator
from tollgate.core.models import Principal, Project

UNSET = object()


class ProjectRepository(Protocol):
    def add(self, project: Project) -> None: ...

    def get(self, tenant_id: str, project_id: str) -> Project:
        """``NotFound`` if the tenant has no such project."""
        ...

    def list(self, tenant_id: str) -> list[Project]: ...

    def update(self, tenant_id: str, project_id: str, name: str | None, budget: object) -> Project:
        """``budget``: an int sets it, None removes it, ``UNSET`` leaves it. ``NotFound`` if absent."""
        ...


class ProjectService:
    def __init__(self, projects: ProjectRepository, clock: Clock, ids: IdGenerator) -> None:
        self._projects = projects
        self._clock = clock
        self._ids = ids

    def create(self, caller: Principal, name: str, budget: int | None) -> Project:
        _check_budget(budget)
        project = Project(
            id=self._ids.new_id("pj"),
            tenant_id=caller.tenant_id,
            name=name,
            created_at=self._clock.now(),
            budget=budget,
        )
        self._projects.add(project)
        return project

    def list(self, caller: Principal) -> list[Project]:
        return self._projects.list(caller.tenant_id)

    def update(self, caller: Principal, project_id: str, name: str | None, budget: object) -> Project:
        _check_budget(budget)
        return self._projects.update(caller.tenant_id, project_id, name, budget)


def _check_budget(budget: object) -> None:
    """A budget is a token amount: an integer in 0…10^15 (``limits.MAX_TOKENS``), whoever parsed it."""
    if isinstance(budget, int) and not isinstance(budget, bool) and not 0 <= budget <= limits.MAX_TOKENS:
        raise InvalidField("budget", f"must be an integer from 0 to {limits.MAX_TOKENS}")
