"""The one id generator: short, URL-safe, lower-case, sortable by creation enough for humans to read."""

from __future__ import annotations

import secrets
from typing import Protocol

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case: no i, l, o, u


def _random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class IdGenerator(Protocol):
    def new_id(self, prefix: str) -> str: ...

    def new_secret(self) -> str: ...


class RandomIds:
    """Ids are ``<prefix>_<16 chars>`` (80 bits); secrets are 32 chars (160 bits)."""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{_random_token(16)}"

    def new_secret(self) -> str:
        return _random_token(32)


RANDOM_IDS = RandomIds()
