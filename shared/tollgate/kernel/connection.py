"""The DynamoDB connection the pool kernel writes through, built once per cold start from settings.

Timeouts are seconds, far shorter than any function's; botocore's own retries are off here, because the
kernel's one retry layer (``store.errors.with_retries``) retries throttling and transaction conflicts with
the same ClientRequestToken inside a total time budget, then answers 503 with Retry-After while the
function still has time to say so.
"""

from __future__ import annotations

from functools import cache

from pynamodb.connection import Connection

from tollgate.core.settings import settings

CONNECT_TIMEOUT_S = 1.0


@cache
def shared_connection() -> Connection:
    config = settings()
    return Connection(
        region=config.region,
        host=config.dynamodb_endpoint,
        connect_timeout_seconds=CONNECT_TIMEOUT_S,
        read_timeout_seconds=config.dynamodb_read_timeout_s,
        max_retry_attempts=0,
    )
