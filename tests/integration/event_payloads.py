"""The document's typed event payloads (``webhooks``, from ``tollgate.events.models_payloads``) held against
the events the running stack really raises: the event tests list events and receive deliveries through
these checks, so a payload model that drifts from the code that builds the event fails there."""

from __future__ import annotations

import json
from typing import Any

from tollgate.events.models_payloads import DATA, WEBHOOK_EVENTS


def listed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``GET /v1/events`` items: each one's ``data`` is what its type's model says."""
    for event in events:
        DATA[event["type"]].model_validate(event["data"])
    return events


def delivered(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deliveries the local receiver recorded: each body is its type's payload, exactly."""
    for delivery in received:
        if not delivery.get("body"):
            continue
        body = json.loads(delivery["body"])
        WEBHOOK_EVENTS[body["type"]].model_validate(body)
    return received
