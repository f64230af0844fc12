"""The one clock. Everything that needs "now" asks a Clock; nothing calls time.time() itself.

Production uses the system clock. The local stack moves it forward (``POST /_local/clock``) through
``advance``; tests inject a ``FixedClock``.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Seconds since the Unix epoch, UTC."""
        ...


class SystemClock:
    """Wall-clock time plus an offset that only the local stack ever sets."""

    def __init__(self) -> None:
        self._offset_s = 0

    def now(self) -> int:
        return int(time.time()) + self._offset_s

    @property
    def offset_s(self) -> int:
        return self._offset_s

    def set_offset(self, offset_s: int) -> None:
        self._offset_s = int(offset_s)


class FixedClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, now_s: int) -> None:
        self._now = now_s

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> None:
        self._now += seconds


SYSTEM_CLOCK = SystemClock()
