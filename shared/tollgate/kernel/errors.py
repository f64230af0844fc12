"""Turning DynamoDB's failures into domain errors (the retries happen in the one client, ``kernel.client``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from tollgate.core.errors import NotFound, StoreBusy
from tollgate.kernel.client import BUSY_CODES, BUSY_REASONS, LOST_ERRORS

T = TypeVar("T")


def cause_code(exc: PynamoDBException) -> str | None:
    """DynamoDB's error code, or None when there was no answer (a timeout, a dropped connection)."""
    response = getattr(exc.cause, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    """One code per item of the transaction, in order (``None`` for the items that were fine)."""
    return [reason.code if reason is not None else None for reason in (exc.cancellation_reasons or [])]


def is_busy(exc: PynamoDBException) -> bool:
    if cause_code(exc) in BUSY_CODES:
        return True
    if isinstance(exc, TransactWriteError):
        return any(code in BUSY_REASONS for code in cancellation_codes(exc))
    return False


def with_retries(operation: Callable[[], T]) -> T:
    """Run ``operation`` (one DynamoDB call that is safe to repeat: every write here is conditional or
    carries a ClientRequestToken); ``StoreBusy`` (HTTP 503, Retry-After) when it still fails busy or lost.

    The retries themselves happen for every call, in the one client (``tollgate.kernel.client``: backoff
    with full jitter inside ``Settings.dynamodb_retry_budget_s``), so this adds none of its own: retrying
    here again would multiply the attempts and overrun the function's time."""
    with busy_as_store_busy():
        return operation()


def is_lost(exc: PynamoDBException) -> bool:
    """The request may or may not have reached DynamoDB: a timeout, a dropped connection, a 5xx."""
    cause = exc.cause
    return cause is not None and type(cause).__name__ in LOST_ERRORS


def update_existing(item: Model, actions: Sequence[Action], missing: str) -> None:
    """Update an item that must already exist; ``NotFound(missing)`` when it does not. Nothing is created."""
    try:
        with busy_as_store_busy():
            item.update(actions=list(actions), condition=type(item).pk.exists())  # type: ignore[attr-defined]
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise NotFound(missing) from exc
        raise


@contextmanager
def busy_as_store_busy() -> Iterator[None]:
    try:
        yield
    except PynamoDBException as exc:
        if is_busy(exc) or is_lost(exc):
            raise StoreBusy() from exc
        raise
