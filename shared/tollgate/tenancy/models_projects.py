"""Projects: a tenant's split of its pool, with an optional budget."""

from __future__ import annotations

from pydantic import Field

from tollgate.core.schema import AnswerModel, Name, RequestModel, Timestamp, Tokens, example


class ProjectBody(RequestModel):
    model_config = example({"name": "Platform team", "budget": 50000})

    name: Name
    budget: Tokens | None = None


class ProjectChanges(RequestModel):
    """Only the fields sent change; ``budget: null`` removes the budget."""

    model_config = example({"budget": 75000})

    name: Name | None = None
    budget: Tokens | None = None


class Project(AnswerModel):
    id: str
    name: str
    budget: int | None
    spent: int
    held_by_leases: int
    budget_left: int | None = Field(description="budget − spent − held_by_leases; null without a budget.")
    created_at: Timestamp | None


class ProjectAnswer(AnswerModel):
    project: Project


class ProjectsAnswer(AnswerModel):
    projects: list[Project]
