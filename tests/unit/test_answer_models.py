"""Every portal answer model takes exactly what its view (``tollgate.edge.views``) produces: a field added
to a view and not to its model (or the other way round) fails here, not as a 500 on the stack."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tollgate.core.models import (
    ApiKey,
    EntryKind,
    Feature,
    LedgerEntry,
    LicenseKey,
    Project,
    Tenant,
    TenantStatus,
    TokenPack,
)
from tollgate.core.roles import Role
from tollgate.edge import views
from tollgate.edge.views_purchases import purchase_view
from tollgate.keys.models import LicenseKey as LicenseKeyAnswer
from tollgate.pool.models import LedgerEntry as LedgerEntryAnswer
from tollgate.purchases.models import Purchase as PurchaseAnswer
from tollgate.purchases.models_catalog import CatalogAnswer
from tollgate.purchases.service import Purchase, PurchaseStatus
from tollgate.tenancy.models import ApiKey as ApiKeyAnswer
from tollgate.tenancy.models import NewApiKey
from tollgate.tenancy.models import Tenant as TenantAnswer
from tollgate.tenancy.models_projects import Project as ProjectAnswer

NOW = 1_800_000_000
CASES: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (TenantAnswer, views.tenant_view(Tenant("tn_1", "Acme", "a@b.co", "eu-west-1", TenantStatus.ACTIVE, NOW))),
    (ApiKeyAnswer, views.api_key_view(ApiKey("ak_1", "tn_1", "ci", Role.MEMBER, "tg_…", "h", NOW))),
    (NewApiKey, views.api_key_view(ApiKey("ak_1", "tn_1", "ci", Role.MEMBER, "tg_…", "h", NOW), secret="tg_x")),
    (ProjectAnswer, views.project_view(Project("pj_1", "tn_1", "p", NOW, budget=10))),
    (LedgerEntryAnswer, views.entry_view(LedgerEntry("le_1", "tn_1", EntryKind.GRANT, 5, NOW, "operator"))),
    (LicenseKeyAnswer, views.license_key_view(LicenseKey("lk_1", "tn_1", "k", "tgk_…", "h", ("eu",), NOW))),
    (
        CatalogAnswer,
        views.catalog_view([TokenPack("starter", 100, 500, "eur", 365)], [Feature("build", 1, 60, "Build")]),
    ),
    (
        PurchaseAnswer,
        purchase_view(Purchase("pu_1", "tn_1", "ak_1", "starter", 1, 100, 500, "eur", 365, PurchaseStatus.PAID, NOW)),
    ),
]


@pytest.mark.parametrize(("model", "view"), CASES, ids=[model.__name__ for model, _ in CASES])
def test_answer_model_takes_exactly_what_the_view_gives(model: type[BaseModel], view: dict[str, Any]) -> None:
    assert model.model_validate(view).model_dump(mode="json") == view
