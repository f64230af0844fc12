"""The tenant's pool: balance, token lots and the ledger."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tollgate.core.models import EntryKind
from tollgate.core.schema import AnswerModel, Timestamp


class Lot(AnswerModel):
    id: str
    source: Literal["purchase", "grant", "refill", "rollover"] = Field(description="How the tokens arrived.")
    purchase_id: str | None
    grant_reason: str | None
    tokens: int
    remaining: int
    expires_at: Timestamp | None


class BalanceAnswer(AnswerModel):
    balance: int
    reserved: int
    available: int
    overdraft: int = Field(description="How far below zero consumption may take `available` (0: not at all).")
    lots: list[Lot]


class LedgerEntry(AnswerModel):
    id: str
    kind: EntryKind
    amount: int = Field(description="Positive for credits, negative for debits.")
    balance_after: int | None
    reason: str
    actor: str
    feature: str | None
    quantity: int | None
    project_id: str | None
    idempotency_key: str | None
    purchase_id: str | None
    lot_id: str | None
    lease_id: str | None
    allowance_id: str | None
    action_id: str | None = Field(default=None, description="The approved action this consumption redeemed.")
    created_at: Timestamp | None


class LedgerAnswer(AnswerModel):
    entries: list[LedgerEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
