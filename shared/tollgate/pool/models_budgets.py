"""Budgets at four levels: requests and answers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tollgate.core.schema import AnswerModel, RequestModel, Timestamp, Tokens


class BudgetBody(RequestModel):
    limit: Tokens
    period: Literal["none", "month"] = Field(default="none", description="`month` resets at each UTC month start.")


class Budget(AnswerModel):
    scope: str = Field(description="`tenant`, `project:<id>`, `environment:<project_id>:<name>` or `key:<id>`.")
    limit: int
    period: Literal["none", "month"]
    used: int
    held: int = Field(description="What open holds (leases, allowances, actions) keep at this level.")
    left: int = Field(description="limit − used − held.")
    resets_at: Timestamp | None = Field(description="The next period start; null for period none.")


class BudgetAnswer(AnswerModel):
    budget: Budget


class BudgetsAnswer(AnswerModel):
    budgets: list[Budget]
