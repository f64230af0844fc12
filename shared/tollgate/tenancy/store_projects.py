"""Projects and their budgets."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from tollgate.core.errors import NotFound
from tollgate.core.models import Project
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy, update_existing
from tollgate.kernel.items import ProjectItem
from tollgate.tenancy.service_projects import UNSET


def _project(tenant_id: str, item: ProjectItem) -> Project:
    return Project(
        id=item.project_id,
        tenant_id=tenant_id,
        name=item.name,
        created_at=int(item.created_at),
        budget=None if item.budget is None else int(item.budget),
        spent=int(item.spent or 0),
        committed=int(item.committed if item.committed is not None else item.spent or 0),
    )


class DynamoProjectRepository:
    def add(self, project: Project) -> None:
        item = ProjectItem(
            keys.tenant_pk(project.tenant_id),
            keys.project_sk(project.id),
            project_id=project.id,
            name=project.name,
            created_at=project.created_at,
            budget=project.budget,
            spent=0,
            committed=0,
            budget_left=project.budget,
        )
        with busy_as_store_busy():
            item.save(condition=ProjectItem.pk.does_not_exist())

    def get(self, tenant_id: str, project_id: str) -> Project:
        try:
            with busy_as_store_busy():
                item = ProjectItem.get(keys.tenant_pk(tenant_id), keys.project_sk(project_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no project {project_id}") from exc
        return _project(tenant_id, item)

    def list(self, tenant_id: str) -> list[Project]:
        with busy_as_store_busy():
            items = ProjectItem.query(keys.tenant_pk(tenant_id), ProjectItem.sk.startswith("PROJECT#"))
            return [_project(tenant_id, item) for item in items]

    def update(self, tenant_id: str, project_id: str, name: str | None, budget: object) -> Project:
        item = ProjectItem(keys.tenant_pk(tenant_id), keys.project_sk(project_id))
        actions: list[Any] = []
        if name is not None:
            actions.append(ProjectItem.name.set(name))
        if budget is None:
            actions += [ProjectItem.budget.remove(), ProjectItem.budget_left.remove()]
        elif budget is not UNSET:
            assert isinstance(budget, int)
            # budget_left follows atomically: the new budget less what is spent or held by leases at this instant
            actions += [
                ProjectItem.budget.set(budget),
                ProjectItem.budget_left.set(budget - (ProjectItem.committed | 0)),
            ]
        if not actions:
            return self.get(tenant_id, project_id)
        update_existing(item, actions, f"no project {project_id}")
        return _project(tenant_id, item)
