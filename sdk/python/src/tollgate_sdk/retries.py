"""When to try a request again, and how long to wait first.

Exponential backoff with full jitter (a uniform wait between 0 and ``base · 2^retry``, capped), and a
``Retry-After`` from the server is a floor under that wait. What is retried: no answer at all, 429 and 5xx.
Every route the SDK calls is safe to repeat (reads, or writes carrying an Idempotency-Key, or settling
calls that the server makes idempotent).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.25
    cap_s: float = 8.0
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited for: the call fails instead

    def delay(self, retry: int, random_unit: float, retry_after_s: float | None = None) -> float:
        """The wait before retry number ``retry`` (0 for the first), given a uniform draw in [0, 1)."""
        jittered = random_unit * min(self.cap_s, self.base_s * (2.0**retry))
        if retry_after_s is None:
            return jittered
        return max(retry_after_s, jittered)


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110); None if absent or
    unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - now_s
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
