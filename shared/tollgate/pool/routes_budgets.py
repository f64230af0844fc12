"""Budgets at four levels: ``GET /v1/budgets`` (owner, admin, billing, auditor), ``PUT`` and ``DELETE
/v1/budgets/{scope}`` (owner, admin, billing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tollgate.core.roles import Permission
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views import iso
from tollgate.pool.models_budgets import BudgetAnswer, BudgetBody, BudgetsAnswer

if TYPE_CHECKING:
    from tollgate.pool.rules_budgets import Budget
    from tollgate.pool.service_budgets import BudgetService


class BudgetServices(Protocol):
    def budget_service(self) -> BudgetService: ...


router: CapabilityRouter[BudgetServices] = CapabilityRouter()
TAGS = ["budgets"]


def budget_view(budget: Budget) -> dict[str, Any]:
    return {
        "scope": budget.scope,
        "limit": budget.limit,
        "period": budget.period,
        "used": budget.used,
        "held": budget.held,
        "left": budget.left,
        "resets_at": iso(budget.resets_at),
    }


@router.get(
    "/v1/budgets", permission=Permission.READ_BUDGETS, responses=answers(200, BudgetsAnswer, 401, 403), tags=TAGS
)
def list_budgets() -> BudgetsAnswer:
    budgets = router.services.budget_service().list(principal())
    return BudgetsAnswer.model_validate({"budgets": [budget_view(b) for b in budgets]})


@router.put(
    "/v1/budgets/<scope>",
    permission=Permission.MANAGE_BUDGETS,
    responses=answers(200, BudgetAnswer, 400, 401, 403, 404, 422),
    tags=TAGS,
)
def put_budget(scope: str, body: BudgetBody) -> BudgetAnswer:
    budget = router.services.budget_service().put(principal(), scope, body.limit, body.period)
    return BudgetAnswer.model_validate({"budget": budget_view(budget)})


@router.delete(
    "/v1/budgets/<scope>",
    permission=Permission.MANAGE_BUDGETS,
    responses=answers(200, BudgetAnswer, 401, 403, 404, 422),
    tags=TAGS,
)
def delete_budget(scope: str) -> BudgetAnswer:
    return BudgetAnswer.model_validate(
        {"budget": budget_view(router.services.budget_service().delete(principal(), scope))}
    )
