"""The Stripe webhook's contract (functions/stripe_webhook): Stripe calls it, signed; nobody else can."""

from __future__ import annotations

from typing import Any

from tollgate.edge.contract.sdk import answer, header, obj, refusals

STRIPE_ANSWER = obj(
    {"received": {"type": "boolean"}, "event": {"type": "string"}, "outcome": {"type": "string"}},
    ("received", "event", "outcome"),
)
SCHEMAS: dict[str, dict[str, Any]] = {"StripeEventAnswer": STRIPE_ANSWER}

PATHS: dict[str, dict[str, Any]] = {
    "/v1/stripe/webhook": {
        "post": {
            "tags": ["billing"],
            "security": [],
            "parameters": [
                header("Stripe-Signature", {"type": "string"}, required=True, description="t=…,v1=… (Stripe).")
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": answer(
                    "Verified: applied, a duplicate, or about nothing of ours.",
                    STRIPE_ANSWER,
                ),
                **refusals(400),
            },
        }
    }
}
