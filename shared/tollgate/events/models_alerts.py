"""Alerts: thresholds that raise events (balance.low, forecast.depletion_soon, lot.expiring, …)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tollgate.core import limits
from tollgate.core.schema import AnswerModel, RequestModel, Timestamp, Tokens, example

AlertKindName = Literal[
    "balance_below", "depletion_within_days", "lot_expiring_within_days", "project_budget_used_percent"
]


class AlertBody(RequestModel):
    model_config = example({"kind": "balance_below", "threshold": 1000})

    kind: AlertKindName
    threshold: Tokens = Field(
        description="Tokens (balance_below), days (depletion_within_days, lot_expiring_within_days) or percent "
        "(project_budget_used_percent, 1…100)."
    )
    project_id: str | None = Field(
        default=None,
        max_length=limits.ID_MAX,
        pattern=limits.PROJECT_ID_PATTERN,
        description="Only for project_budget_used_percent, which needs it.",
    )


class Alert(AnswerModel):
    id: str
    kind: AlertKindName
    threshold: int
    project_id: str | None
    state: Literal["armed", "fired"] = Field(description="fired: crossed and not yet recovered.")
    created_at: Timestamp | None
    changed_at: Timestamp | None


class AlertAnswer(AnswerModel):
    alert: Alert


class AlertsAnswer(AnswerModel):
    alerts: list[Alert]
