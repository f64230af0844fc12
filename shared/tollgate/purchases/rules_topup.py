"""Auto top-up's rules, pure: what a crossing is, what a crossing may buy, and the ids a crossing derives.

A crossing is one change of the pool item that takes ``available`` from at least the threshold to below
it (the table's stream carries each change once per item, in order: however many spenders race, exactly
one change crosses). Enabling auto top-up while already below the threshold is a crossing too. Everything
a crossing creates is named after it: the purchase id and Stripe's idempotency key, so a redelivered
record or a retry after a crash finds the same purchase and the same PaymentIntent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from tollgate.core.budgets import month_start

FAILURES_TO_DISABLE = 3
DISABLED_AFTER_FAILURES = "three consecutive payments failed"
BUYER = "system:topup"


@dataclass(frozen=True)
class TopUpSettings:
    tenant_id: str
    enabled: bool
    threshold: int
    pack_id: str
    quantity: int
    monthly_limit: int
    month: int = 0  # the UTC month start ``purchases`` counts in
    purchases: int = 0
    failures: int = 0
    disabled_reason: str | None = None
    below: bool = False  # this version switched it on while ``available`` was below the threshold (a crossing)
    version: int = 0
    updated_at: int = 0

    def purchases_in(self, now: int) -> int:
        """Top-ups started in ``now``'s month that did not fail (a new month reads 0: reset when read)."""
        return self.purchases if self.month == month_start(now) else 0


def crossed(before: int | None, after: int | None, threshold: int) -> bool:
    """This change took ``available`` from ``>= threshold`` to ``< threshold``."""
    return before is not None and after is not None and before >= threshold > after


def refusal(settings: TopUpSettings | None, now: int) -> str | None:
    """Why a crossing buys nothing now, or None if it may buy."""
    if settings is None or not settings.enabled:
        return "auto top-up is off"
    if settings.purchases_in(now) >= settings.monthly_limit:
        return f"monthly_limit ({settings.monthly_limit}) reached"
    return None


def started(settings: TopUpSettings, now: int) -> TopUpSettings:
    """The settings once a crossing started a purchase: one more this month."""
    return replace(
        settings,
        month=month_start(now),
        purchases=settings.purchases_in(now) + 1,
        below=False,
        version=settings.version + 1,
    )


def after_failure(settings: TopUpSettings, purchase_created_at: int, now: int) -> TopUpSettings:
    """A top-up's payment failed: it no longer counts toward its month; three in a row switch it off."""
    purchases = settings.purchases
    if settings.month == month_start(purchase_created_at) and purchases > 0:
        purchases -= 1
    failures = settings.failures + 1
    off = failures >= FAILURES_TO_DISABLE and settings.enabled
    return replace(
        settings,
        purchases=purchases,
        failures=failures,
        enabled=settings.enabled and not off,
        disabled_reason=DISABLED_AFTER_FAILURES if off else settings.disabled_reason,
        below=False,
        version=settings.version + 1,
        updated_at=now,
    )


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # the ids' alphabet (core/ids.py)


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def topup_purchase_id(tenant_id: str, crossing: str, at: int) -> str:
    """``pu_`` + the crossing's time (ms, as ids sort by creation) + 6 characters of a hash of the crossing."""
    digest = int.from_bytes(hashlib.sha256(f"{tenant_id}|{crossing}".encode()).digest()[:4], "big")
    return f"pu_{_base32(at * 1000, 10)}{_base32(digest, 6)}"


def idempotency_key(tenant_id: str, crossing: str) -> str:
    """Stripe's Idempotency-Key of the crossing's PaymentIntent."""
    return f"tollgate-topup-{tenant_id}-{crossing}"
