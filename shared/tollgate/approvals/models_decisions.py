"""The hash-chained decision log (``GET /v1/decisions``)."""

from __future__ import annotations

from pydantic import Field

from tollgate.core.schema import AnswerModel


class DecisionRecord(AnswerModel):
    seq: int = Field(description="1, 2, … without gaps, per tenant.")
    at: int = Field(description="Seconds since the epoch, UTC (as hashed).")
    actor: str
    event: str = Field(description="e.g. spend.denied, action.approved, review.approved.")
    action_id: str | None
    rule_id: str | None
    policy_version: int | None
    prev_hash: str = Field(description="The previous record's hash; 64 zeros for the first.")
    hash: str = Field(
        description="Lowercase hex SHA-256 of the canonical JSON of every other field (sorted keys, `,` `:`)."
    )


class DecisionsAnswer(AnswerModel):
    decisions: list[DecisionRecord]
    next_cursor: str | None
