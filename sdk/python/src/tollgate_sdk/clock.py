"""The time and randomness the SDK uses, in one injectable object (tests pass a fake; nothing else reads
``time`` or ``random``)."""

from __future__ import annotations

import random
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock time, seconds since the epoch (receipts, lease ends)."""

    def monotonic(self) -> float:
        """A clock that never jumps (deadlines)."""

    def sleep(self, seconds: float) -> None: ...

    def random(self) -> float:
        """A uniform draw in [0, 1) (backoff jitter)."""


class SystemClock:
    """The real clock; jitter from a per-instance generator, so no global random state is shared."""

    def __init__(self) -> None:
        self._random = random.Random()  # noqa: S311 - jitter, not secrets
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def random(self) -> float:
        with self._lock:
            return self._random.random()
