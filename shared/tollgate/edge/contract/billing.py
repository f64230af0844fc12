"""The Stripe webhook's contract (functions/stripe_webhook): Stripe calls it, signed; nobody else can."""

from __future__ import annotations

from typing import Any

from tollgate.edge.contract.sdk import answer, header, obj, refusals

PATHS: dict[str, dict[str, Any]] = {
    "/v1/stripe/webhook": {
        "post": {
            "operationId": "receive_stripe_event",
            "tags": ["billing"],
            "summary": "Stripe events, verified against the raw body and applied exactly once.",
            "description": "Authenticated by the `Stripe-Signature` header (HMAC of the raw body), not a bearer key.",
            "security": [],
            "parameters": [
                header("Stripe-Signature", {"type": "string"}, required=True, description="t=…,v1=… (Stripe).")
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": answer(
                    "Verified: applied, a duplicate, or about nothing of ours.",
                    obj(
                        {"received": {"type": "boolean"}, "event": {"type": "string"}, "outcome": {"type": "string"}},
                        ("received", "event", "outcome"),
                    ),
                ),
                **refusals(400),
            },
        }
    }
}
