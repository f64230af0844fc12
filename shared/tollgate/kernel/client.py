"""The one way to DynamoDB: its timeouts, and the one retry layer, for every call the code makes.

Every call goes through a botocore client built here: the process's one shared client (every pynamodb item
and transaction, through ``tollgate.kernel.connection``) or, on the validation path, a client of the same
settings that SnapStart can replace (``new_client``). botocore's own retries are off; the retry layer is
ours (``_retry_delay``, on the client's ``needs-retry`` event): throttling, a transaction conflict, a 5xx or
a lost answer (a timeout, a dropped connection) is tried again with the same request (the same
ClientRequestToken for a transaction), with full-jitter backoff, while the whole call, its last attempt
included, fits in ``Settings.dynamodb_retry_budget_s``. After that the call fails and the caller answers
503 with Retry-After (``tollgate.kernel.errors.busy_as_store_busy``).

With the deployed settings (connect 0.5 s, read 2 s, budget 4 s) one call never takes more than 4 s, so a
10 s function that makes two calls that both meet the worst still has 2 s to answer 503, and the 5 s
validation function 1 s. botocore only: the validation function loads no pynamodb.
"""

from __future__ import annotations

import random
import time
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

from tollgate.core.settings import settings

CONNECT_TIMEOUT_S = 0.5
MAX_ATTEMPTS = 6  # of one call, the first included
BASE_DELAY_S = 0.02  # full jitter: the n-th retry waits up to BASE_DELAY_S * 2**(n-1)
NO_BOTOCORE_RETRIES = {"total_max_attempts": 1, "mode": "standard"}

# DynamoDB's answers that mean "not now": tried again, then 503.
BUSY_CODES = frozenset(
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
# A transaction's cancellation reasons that mean the same.
BUSY_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# botocore's exceptions for a request that may or may not have reached DynamoDB.
LOST_ERRORS = frozenset(
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
_STARTED = "tollgate_started"  # in a request's context: when the call's first attempt began


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds of every DynamoDB request."""
    return CONNECT_TIMEOUT_S, settings().dynamodb_read_timeout_s


def client_config() -> Config:
    connect, read = timeouts()
    return Config(
        connect_timeout=connect,
        read_timeout=read,
        retries=NO_BOTOCORE_RETRIES,  # type: ignore[arg-type]
        tcp_keepalive=True,
        parameter_validation=False,
    )


def new_client(endpoint: str | None = None, region: str | None = None) -> Any:
    """A DynamoDB client with the one settings and the one retry layer (the validation path makes its own,
    which SnapStart replaces after a restore; everything else uses ``shared_client``)."""
    config = settings()
    client = botocore.session.get_session().create_client(
        "dynamodb",
        region_name=region or config.region,
        endpoint_url=endpoint or config.dynamodb_endpoint,
        config=client_config(),
    )
    install_retries(client)
    return client


@cache
def shared_client() -> Any:
    """The process's one DynamoDB client: every pynamodb item and transaction sends through it."""
    return new_client()


def install_retries(client: Any) -> None:
    """Our retry layer on ``client``: the start of each call is noted, and each failed attempt asks
    ``_retry_delay`` whether (and after how long) to try again."""
    client.meta.events.register("before-call.dynamodb", _note_start)
    client.meta.events.register("needs-retry.dynamodb", _retry_delay)


def _note_start(context: dict[str, Any], **_: Any) -> None:
    context[_STARTED] = time.monotonic()


def is_busy_answer(parsed: dict[str, Any]) -> bool:
    code = parsed.get("Error", {}).get("Code")
    if code in BUSY_CODES:
        return True
    reasons = parsed.get("CancellationReasons") or []
    return any(isinstance(reason, dict) and reason.get("Code") in BUSY_REASONS for reason in reasons)


def _retry_delay(
    attempts: int,
    request_dict: dict[str, Any],
    response: tuple[Any, dict[str, Any]] | None = None,
    caught_exception: Exception | None = None,
    **_: Any,
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up (botocore then raises what it got)."""
    if caught_exception is not None:
        if type(caught_exception).__name__ not in LOST_ERRORS:
            return None
    elif response is None or not is_busy_answer(response[1]):
        return None  # a success, or an answer that a repeat would not change
    if attempts >= MAX_ATTEMPTS:
        return None
    delay = random.uniform(0, BASE_DELAY_S * 2 ** (attempts - 1))  # noqa: S311 (jitter, not security)
    started = request_dict.get("context", {}).get(_STARTED, time.monotonic())
    connect, read = timeouts()
    if time.monotonic() - started + delay + connect + read > settings().dynamodb_retry_budget_s:
        return None  # the next attempt might end after the budget
    return delay
