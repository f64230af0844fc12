"""Turning DynamoDB's failures into domain errors, and retrying what DynamoDB says to retry."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from tollgate.core.errors import NotFound, StoreBusy

T = TypeVar("T")

_BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
_BUSY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


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
    if cause_code(exc) in _BUSY_CODES:
        return True
    if isinstance(exc, TransactWriteError):
        return any(code in _BUSY_REASONS for code in cancellation_codes(exc))
    return False


def with_retries(
    operation: Callable[[], T], attempts: int = 6, base_delay_s: float = 0.02, budget_s: float | None = None
) -> T:
    """Run ``operation``; on throttling, a transaction conflict or a lost answer (a timeout or a dropped
    connection after DynamoDB may have committed), back off (full jitter) and try again, within ``budget_s``.

    The operation must be safe to repeat: every write here is conditional and carries a ClientRequestToken,
    so a repeat of a committed transaction is answered as the first was. After the last attempt the caller
    gets ``StoreBusy`` (HTTP 503, Retry-After)."""
    if budget_s is None:
        from tollgate.core.settings import settings

        budget_s = settings().dynamodb_retry_budget_s  # the functions time out at 10 s (template.yaml)
    started = time.monotonic()
    for attempt in range(attempts):
        try:
            return operation()
        except PynamoDBException as exc:
            if not (is_busy(exc) or is_lost(exc)):
                raise
            delay = random.uniform(0, base_delay_s * (2**attempt))  # noqa: S311 (jitter, not security)
            if attempt == attempts - 1 or time.monotonic() - started + delay > budget_s:
                raise StoreBusy() from exc
            time.sleep(delay)
    raise AssertionError("unreachable")


def is_lost(exc: PynamoDBException) -> bool:
    """The request may or may not have reached DynamoDB: a timeout, a dropped connection, a 5xx."""
    cause = exc.cause
    return cause is not None and type(cause).__name__ in _LOST_ERRORS


_LOST_ERRORS = frozenset(
    {
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "ConnectionError",
        "HTTPClientError",
        "ResponseParserError",
    }
)


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
