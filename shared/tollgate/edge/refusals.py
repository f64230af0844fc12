"""The error envelope of every refusal, as a model, and the error answers a route declares."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tollgate.core.schema import AnswerModel
from tollgate.edge.contract.answers import REASONS, RETRY_AFTER


class ErrorDetail(AnswerModel):
    code: str = Field(description="SCREAMING_SNAKE, e.g. INVALID_FIELD.")
    message: str
    request_id: str
    field: str | None = Field(default=None, description="The refused field (422 only).")
    rule_id: str | None = Field(
        default=None, description="The policy rule that refused (ACTION_DENIED, APPROVAL_REQUIRED)."
    )


class Error(AnswerModel):
    """Every refusal's body: one error, with a code a program can branch on."""

    error: ErrorDetail


def answers(status: int, model: type[AnswerModel] | None, *refused: int) -> dict[int, Any]:
    """Every answer of one route, for Powertools' ``responses=``: its success and its refusals (422, 429 and
    503 for every route)."""
    success: dict[str, Any] = {"description": "OK" if status < 300 else "Done"}
    success["content"] = {"application/json": {"model": model} if model else {"schema": {"type": "object"}}}
    return {status: success, **refusals(*refused)}


def refusals(*statuses: int) -> dict[int, Any]:
    declared: dict[int, Any] = {}
    for status in sorted({*statuses, 422, 429, 503}):
        answer: dict[str, Any] = {
            "description": REASONS[status],
            "content": {"application/json": {"model": Error}},
        }
        if status in (429, 503):
            answer["headers"] = RETRY_AFTER
        declared[status] = answer
    return declared
