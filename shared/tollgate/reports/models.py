"""Usage reports, the forecast and a purchase's usage, as answered."""

from __future__ import annotations

from pydantic import Field

from tollgate.core.schema import AnswerModel, Timestamp


class UsageRow(AnswerModel):
    period: str = Field(description="A UTC day (YYYY-MM-DD) or month (YYYY-MM).")
    feature: str | None = Field(default=None, description="With group_by=feature.")
    project_id: str | None = Field(default=None, description="With group_by=project; null: no project.")
    key_id: str | None = Field(default=None, description="With group_by=key; the credential that spent.")
    tokens: int
    quantity: int
    count: int = Field(description="Ledger entries counted.")


class UsageTotals(AnswerModel):
    tokens: int
    quantity: int
    count: int


class UsageAnswer(AnswerModel):
    first_day: str = Field(description="`from`: the first UTC day, inclusive.")
    last_day: str = Field(description="`to`: the last UTC day, inclusive.")
    granularity: str
    group_by: list[str]
    rows: list[UsageRow]
    totals: UsageTotals = Field(description="Equal to the ledger's spending entries over the range.")


class BurnRateAnswer(AnswerModel):
    days: int
    days_counted: int = Field(description="Complete UTC days in the window that the tenant existed.")
    tokens: int
    per_day: float


class LotForecastAnswer(AnswerModel):
    id: str
    purchase_id: str | None
    left: int
    expires_at: Timestamp | None
    projected_unused: int = Field(description="Tokens of the lot left when it expires, at the burn rate.")


class ProjectForecastAnswer(AnswerModel):
    id: str
    budget: int | None
    budget_left: int | None
    per_day: float
    depletes_at: Timestamp | None
    depletion_date: str | None


class ForecastAnswer(AnswerModel):
    burn_rate: dict[str, BurnRateAnswer] = Field(description="Keys last_7_days and last_30_days.")
    rate_used: float = Field(description="Tokens per day the projection burns at.")
    available: int
    depletes_at: Timestamp | None
    depletion_date: str | None = Field(description="The UTC day available runs out; null: nothing burns.")
    lots: list[LotForecastAnswer]
    projects: list[ProjectForecastAnswer]


class PurchaseUsageAnswer(AnswerModel):
    purchase_id: str
    status: str
    po_number: str | None
    project_id: str | None
    tokens: int
    consumed: int = Field(description="Spent from its lots (burn order) and not taken back.")
    expired: int
    taken_back: int
    remaining: int
    lot_ids: list[str]
