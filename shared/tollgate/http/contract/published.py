"""The published OpenAPI document, read once per container (the portal serves it)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PUBLISHED = Path(__file__).with_name("openapi.json")


@cache
def document_text() -> str:
    return PUBLISHED.read_text(encoding="utf-8")
