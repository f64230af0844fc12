"""Idempotency-Keys: the first answer given to a key, kept and given again to every retry of the same request.

The kernel writes a ``StoredAnswer`` in the transaction of the change it answers and raises ``Replayed`` when
the key was used before; the services compare fingerprints. Plain values, so that the kernel and every
capability can share them without importing one another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tollgate.core.errors import IdempotencyKeyReused

IDEMPOTENCY_WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given to an Idempotency-Key, returned again to every retry."""

    request_hash: str
    status_code: int
    body: dict[str, Any]
    created_at: int


@dataclass(frozen=True)
class Answer:
    """An Idempotency-Key's first answer, written with the change it answers."""

    scope: str
    key: str
    answer: StoredAnswer


class Replayed(Exception):
    """The debit's Idempotency-Key was used before; ``answer`` is what the first call got."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("replayed")
        self.answer = answer


def check_replay(stored: StoredAnswer, fingerprint: str, now: int) -> None:
    """A first answer may be given again only to the same request, within the idempotency window."""
    if stored.request_hash != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    if now - stored.created_at > IDEMPOTENCY_WINDOW_S:
        raise IdempotencyKeyReused("this Idempotency-Key was used more than 24 hours ago")


def request_fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":"), sort_keys=True).encode()).hexdigest()
