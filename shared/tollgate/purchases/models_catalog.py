"""The catalog: token packs for sale and the features tokens are spent on."""

from __future__ import annotations

from tollgate.core.schema import AnswerModel


class Pack(AnswerModel):
    id: str
    name: str
    tokens: int
    price: int
    currency: str
    valid_days: int | None


class Feature(AnswerModel):
    id: str
    name: str
    cost_per_use: int
    cost_per_hour: int


class CatalogAnswer(AnswerModel):
    packs: list[Pack]
    features: list[Feature]
