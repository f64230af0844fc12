"""The query and header parameters the portal's routes share, bounded by ``tollgate.core.limits`` (pydantic,
through Powertools: only the functions that validate their requests import this)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from tollgate.core import limits

PageLimit = Annotated[
    str | None,
    Query(pattern=limits.PAGE_LIMIT_PATTERN, description=f"Entries per page, 1 to {limits.PAGE_LIMIT_MAX}."),
]
Cursor = Annotated[str | None, Query(max_length=limits.CURSOR_MAX, description="`next_cursor` of the last page.")]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=limits.IDEMPOTENCY_KEY_MAX,
        pattern=limits.IDEMPOTENCY_KEY_PATTERN,
        description="The same key replays the first answer for 24 hours.",
    ),
]


def page_size(limit: str | None) -> int:
    return limits.PAGE_LIMIT_DEFAULT if limit is None else int(limit)
