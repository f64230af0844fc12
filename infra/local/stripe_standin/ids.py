"""Stripe-looking random ids (``cus_…``, ``cs_test_…``, ``evt_…``) and secrets."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

# Length of the random part after the prefix, as in Stripe's own ids.
_LENGTHS = {"cus": 14, "prod": 14, "cs_test": 58}
_DEFAULT_LENGTH = 24


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """A fresh id such as ``ch_3Pq…``; ``prefix`` is written without the trailing underscore."""
    return f"{prefix}_{_random(_LENGTHS.get(prefix, _DEFAULT_LENGTH))}"


def client_secret(object_id: str) -> str:
    return f"{object_id}_secret_{_random(25)}"


def invoice_prefix() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))
