"""One logical API call: the request sent, and sent again on failure until it succeeds, fails for good, or
the call's deadline runs out. The one retry layer of the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tollgate_sdk.clock import Clock
from tollgate_sdk.errors import APIError, ConnectionFailed, error_from_response
from tollgate_sdk.retries import Backoff, parse_retry_after, retryable_status
from tollgate_sdk.transport import Timeout, Transport, TransportError

VERSION = "0.2.0"


class ApiCaller:
    def __init__(
        self,
        license_key: str,
        base_url: str,
        transport: Transport,
        clock: Clock,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        max_retries: int,
        deadline_s: float,
        backoff: Backoff,
        region: str | None,
    ) -> None:
        if max_retries < 0 or deadline_s <= 0 or timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("max_retries must be >= 0 and every timeout and the deadline > 0")
        self._base_url = base_url.rstrip("/")
        self._transport = transport
        self._clock = clock
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_retries = max_retries
        self._deadline_s = deadline_s
        self._backoff = backoff
        self._headers = {
            "Authorization": f"Bearer {license_key}",
            "Accept": "application/json",
            "User-Agent": f"tollgate-sdk-python/{VERSION}",
        }
        if region is not None:
            self._headers["X-Tollgate-Region"] = region

    @property
    def clock(self) -> Clock:
        return self._clock

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        deadline_s: float | None = None,
    ) -> Any:
        """The parsed JSON of a 2xx answer; raises the ``APIError`` of the last failure. The same bytes and
        headers (an Idempotency-Key included) are sent on every attempt."""
        sent = dict(self._headers)
        payload: bytes | None = None
        if body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode()
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        url = self._base_url + path
        deadline = self._clock.monotonic() + (deadline_s if deadline_s is not None else self._deadline_s)
        retry = 0
        while True:
            remaining = deadline - self._clock.monotonic()
            timeout = Timeout(
                connect_s=max(0.001, min(self._connect_timeout_s, remaining)),
                read_s=max(0.001, min(self._timeout_s, remaining)),
                total_s=max(0.001, remaining),
            )
            retry_after: float | None = None
            try:
                answer = self._transport.request(method, url, sent, payload, timeout)
            except TransportError as exc:
                error: APIError = ConnectionFailed(f"{method} {path}: no answer ({exc})")
            else:
                if answer.status < 400:
                    return _json_of(answer.body, method, path)
                retry_after = parse_retry_after(answer.headers.get("retry-after"), self._clock.now())
                error = error_from_response(answer.status, answer.body, answer.headers, retry_after)
                if not retryable_status(answer.status):
                    raise error
            if retry >= self._max_retries:
                raise error
            if retry_after is not None and retry_after > self._backoff.max_retry_after_s:
                raise error
            wait = self._backoff.delay(retry, self._clock.random(), retry_after)
            if self._clock.monotonic() + wait >= deadline:
                raise error  # the wait alone would overrun the deadline: fail now, not later
            self._clock.sleep(wait)
            retry += 1

    def close(self) -> None:
        self._transport.close()


def _json_of(body: bytes, method: str, path: str) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError as exc:
        raise APIError(f"{method} {path}: the answer is not JSON") from exc
