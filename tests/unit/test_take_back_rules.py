"""The take-back figures (SPEC.md, "The pool kernel"), as pure arithmetic, with hypothesis."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from tollgate.purchases.rules_take_back import dispute_take, expired_of_lot, refund_take, refunded_share

TOKENS = st.integers(min_value=1, max_value=10**15)
AMOUNTS = st.integers(min_value=1, max_value=10**9)


def test_the_spec_example_buy_1000_consume_10_expire_refund_in_full() -> None:
    expired = 990  # 1,000 bought, 10 consumed, the rest expired unused
    assert refund_take(refunded_share(1000, 1000, 1000), expired, 0) == 10
    assert dispute_take(1000, expired, 0) == 10


def test_half_a_token_rounds_up_and_the_whole_amount_is_every_token() -> None:
    assert refunded_share(3, 1, 2) == 2  # 1.5 → 2
    assert refunded_share(1000, 1, 3) == 333
    assert refunded_share(1000, 2, 3) == 667
    assert refunded_share(7, 100, 100) == 7
    assert refunded_share(7, 150, 100) == 7  # never more than the purchase


@given(TOKENS, AMOUNTS, st.data())
def test_share_is_round_of_fraction_times_tokens(tokens: int, amount: int, data: st.DataObject) -> None:
    refunded = data.draw(st.integers(min_value=0, max_value=amount))
    exact = Fraction(tokens * refunded, amount)
    share = refunded_share(tokens, refunded, amount)
    assert abs(share - exact) <= Fraction(1, 2)
    assert 0 <= share <= tokens
    if refunded == amount:
        assert share == tokens


@given(
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=10**6),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=10**6),
    st.randoms(use_true_random=False),
)
def test_refund_events_in_any_order_take_the_same_total(
    tokens: int, amount: int, cumulative: list[int], expired_raw: int, rng: object
) -> None:
    """Each charge.refunded event carries the cumulative amount refunded; delivered in any order, and some
    twice, the tokens taken back add up to ``max(0, round(f×T) − E)`` for the largest f seen."""
    refunds = sorted(min(c, amount) for c in cumulative)
    expired = min(expired_raw, tokens)
    events = refunds + refunds[: len(refunds) // 2]
    rng.shuffle(events)  # type: ignore[attr-defined]
    share = taken = 0
    for refunded in events:
        share = max(share, refunded_share(tokens, refunded, amount))
        take = refund_take(share, expired, taken)
        assert take >= 0
        taken += take
    assert taken == max(0, refunded_share(tokens, refunds[-1], amount) - expired)
    assert taken + expired <= tokens or taken == 0


@given(TOKENS, st.data())
def test_a_dispute_takes_exactly_what_is_left(tokens: int, data: st.DataObject) -> None:
    expired = data.draw(st.integers(min_value=0, max_value=tokens))
    taken = data.draw(st.integers(min_value=0, max_value=tokens - expired))
    take = dispute_take(tokens, expired, taken)
    assert take == tokens - expired - taken
    assert dispute_take(tokens, expired, taken + take) == 0  # a second look takes nothing


def test_expired_figure_comes_from_the_lot() -> None:
    assert expired_of_lot(1000, 1000, False, None, 0) == 0  # live: nothing expired yet
    assert expired_of_lot(1000, 10, True, 990, 0) == 990  # recorded by expiry
    assert expired_of_lot(1000, 10, True, None, 0) == 990  # older lots: reconstructed
    assert expired_of_lot(1000, 10, True, None, 500) == 490
