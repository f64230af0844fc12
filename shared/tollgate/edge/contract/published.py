"""The published OpenAPI document, read once per container (the portal serves it)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PUBLISHED = Path(__file__).with_name("openapi.json")


@cache
def document_text() -> str:
    return PUBLISHED.read_text(encoding="utf-8")


@cache
def document() -> dict[str, Any]:
    return dict(json.loads(document_text()))
