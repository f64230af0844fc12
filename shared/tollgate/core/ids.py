"""The one id generator: short, URL-safe, lower-case, sortable by creation enough for humans to read."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Protocol

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case: no i, l, o, u


def _random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class IdGenerator(Protocol):
    def new_id(self, prefix: str) -> str: ...

    def new_secret(self) -> str: ...


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


class RandomIds:
    """Ids are ``<prefix>_<16 chars>``: 10 chars of creation time in ms (monotonic within a process, so
    records written in one second still sort in the order they were made) and 6 random chars (30 bits).
    Secrets are 32 random chars (160 bits)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def new_id(self, prefix: str) -> str:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1_000_000)
            stamp = self._last
        return f"{prefix}_{_encode(stamp, 10)}{_random_token(6)}"

    def new_secret(self) -> str:
        return _random_token(32)


RANDOM_IDS = RandomIds()
