"""How many tokens a refund or a dispute takes back, and a won dispute gives back. Pure arithmetic.

SPEC.md, "The pool kernel": refunds and disputes take back what the tenant has not consumed of that
purchase, never tokens already gone. With a purchase of T tokens of which E expired unused and B was
already taken back, a refund of a fraction f takes back ``max(0, round(f×T) − E − B)``; a dispute takes
back what is left, ``max(0, T − E − B)``; a dispute closed as won gives back exactly what it took.

Every figure only grows (the refunded share is cumulative, B only grows by what is taken), so events
delivered in any order, or again, end in the same state.
"""

from __future__ import annotations


def refunded_share(tokens: int, amount_refunded: int, amount: int) -> int:
    """``round(tokens × amount_refunded / amount)``, halves rounded up, in integers (no float error for
    large amounts); all of it once the whole amount is refunded."""
    if amount <= 0:
        return 0
    refunded = min(max(amount_refunded, 0), amount)
    return (2 * tokens * refunded + amount) // (2 * amount)


def refund_take(share: int, expired: int, taken_back: int) -> int:
    """What a refund whose cumulative share of the tokens is ``share`` takes back now."""
    return max(0, share - expired - taken_back)


def dispute_take(tokens: int, expired: int, taken_back: int) -> int:
    """What a dispute takes back: what is left of the purchase, neither expired nor taken back."""
    return max(0, tokens - expired - taken_back)


def expired_of_lot(
    tokens: int, remaining: int, expired: bool, expired_tokens: int | None, taken_back_before: int
) -> int:
    """E: what expiry took from a purchase's lot. Lots expired since expiry recorded it carry the figure;
    for older ones it is reconstructed from the lot (``remaining`` after expiry is ``tokens − taken back −
    expired``), taking everything taken back so far as taken before the expiry."""
    if not expired:
        return 0
    if expired_tokens is not None:
        return expired_tokens
    return max(0, tokens - taken_back_before - remaining)
