"""Auto top-up's request and answer models: a saved card and the settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from tollgate.core import limits
from tollgate.core.schema import AnswerModel, RequestModel, example, json_integer


class SetupAnswer(AnswerModel):
    checkout_url: str = Field(description="Stripe Checkout in setup mode: the buyer saves a card there.")
    session_id: str


class PaymentMethod(AnswerModel):
    id: str
    brand: str
    last4: str
    default: bool = Field(description="The card auto top-up pays with (the newest saved).")


class PaymentMethodsAnswer(AnswerModel):
    payment_methods: list[PaymentMethod]


class AutoTopUpBody(RequestModel):
    model_config = example(
        {"enabled": True, "threshold": 1000, "pack_id": "starter", "quantity": 1, "monthly_limit": 3}
    )

    enabled: bool
    threshold: Annotated[int, Field(ge=1, le=limits.MAX_TOKENS), BeforeValidator(json_integer)]
    pack_id: str = Field(min_length=1, max_length=limits.FEATURE_MAX, pattern=limits.PACK_PATTERN)
    quantity: Annotated[int, Field(ge=1, le=limits.MAX_PURCHASE_QUANTITY), BeforeValidator(json_integer)] = 1
    monthly_limit: Annotated[int, Field(ge=1, le=100), BeforeValidator(json_integer)]


class AutoTopUpAnswer(AnswerModel):
    enabled: bool
    threshold: int | None
    pack_id: str | None
    quantity: int | None
    monthly_limit: int | None
    payment_method: PaymentMethod | None = Field(description="The saved card it pays with, if any.")
    purchases_this_month: int = Field(description="Top-ups started this UTC month that did not fail.")
    consecutive_failures: int
    disabled_reason: str | None = Field(default=None, description="Why it switched itself off (three failures).")
