"""Outbox events as DynamoDB Streams deliver them: a record's ``NewImage`` back to an ``Event``.

Stored (``tollgate.events.store``): pk ``T#<tenant>#E``, sk ``<at:012d>#<id>``, ``kind = "event"``, ``type``
and ``data`` (JSON text). The tenant, time and id come from the keys, the only part every writer shares.
"""

from __future__ import annotations

import json
from typing import Any

from tollgate.events.rules import Event

_EVENTS_PK_SUFFIX = "#E"


class NotAnEvent(ValueError):
    """The record is not an outbox event insert (the stream filter should not have let it through)."""


def _text(image: dict[str, Any], name: str) -> str:
    value = image.get(name, {})
    if not isinstance(value, dict) or not isinstance(value.get("S"), str):
        raise NotAnEvent(f"no text attribute {name!r}")
    return str(value["S"])


def event_from_record(record: dict[str, Any]) -> Event:
    if record.get("eventName") != "INSERT":
        raise NotAnEvent("not an insert")
    image = record.get("dynamodb", {}).get("NewImage")
    if not isinstance(image, dict) or image.get("kind", {}).get("S") != "event":
        raise NotAnEvent("not an event item")
    pk, sk = _text(image, "pk"), _text(image, "sk")
    if not pk.startswith("T#") or not pk.endswith(_EVENTS_PK_SUFFIX):
        raise NotAnEvent("not an event partition")
    tenant_id = pk[2 : -len(_EVENTS_PK_SUFFIX)]
    at_text, _, event_id = sk.partition("#")
    if not at_text.isdigit() or not event_id:
        raise NotAnEvent("not an event sort key")
    raw = image.get("data", {})
    if "S" in raw:
        data = json.loads(raw["S"])
    elif "M" in raw:
        data = _plain(raw)
    else:
        data = {}
    if not isinstance(data, dict):
        data = {"value": data}
    return Event(id=event_id, tenant_id=tenant_id, type=_text(image, "type"), at=int(at_text), data=data)


def _plain(value: dict[str, Any]) -> Any:
    """A DynamoDB attribute value as plain JSON (numbers as int when integral)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        number = float(inner)
        return int(number) if number.is_integer() and "." not in inner and "e" not in inner.lower() else number
    if kind == "BOOL":
        return bool(inner)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind in ("SS", "NS"):
        return list(inner)
    return None
