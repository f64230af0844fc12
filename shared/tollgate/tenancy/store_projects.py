"""Projects and their budgets."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DoesNotExist

from tollgate.core.errors import NotFound
from tollgate.core.models import Project
from tollgate.core.ports import AlreadyExists
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy, update_existing
from tollgate.kernel.items import ProjectItem
from tollgate.kernel.pool import PoolTransaction, Refused
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
        )
        tx = PoolTransaction(project.tenant_id, kernel.token("project", project.tenant_id, project.id))
        try:
            tx.create_project(item, project.budget).commit()
        except Refused as refused:
            raise AlreadyExists(project.id) from refused

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
        keys.project_sk(project_id)  # an id of another shape is not found before any read or write
        if budget is UNSET:
            if name is None:
                return self.get(tenant_id, project_id)
            item = ProjectItem(keys.tenant_pk(tenant_id), keys.project_sk(project_id))
            update_existing(item, [ProjectItem.name.set(name)], f"no project {project_id}")
            return _project(tenant_id, item)
        assert budget is None or isinstance(budget, int)
        # budget_left follows in the kernel: the new budget less what is spent or held at this instant
        renamed = [] if name is None else [ProjectItem.name.set(name)]
        tx = PoolTransaction(tenant_id, kernel.token("budget", project_id, secrets.token_hex(8)))
        try:
            tx.set_budget(project_id, budget, actions=renamed).commit()
        except Refused as refused:
            raise NotFound(f"no project {project_id}") from refused
        return self.get(tenant_id, project_id)
