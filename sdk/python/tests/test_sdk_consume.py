"""consume: one Idempotency-Key per logical call, the same on every retry; the hot path's Prefer header."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sdk_fakes import FakeClock, FakeTransport, answer, client, error, refused

import tollgate_sdk as sdk

OK = answer(200, {"charged": 6, "entry_id": "le_1"})


def test_every_retry_of_one_consume_carries_the_same_idempotency_key_and_body() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [refused(), error(500, "INTERNAL"), error(503, "STORE_BUSY"), OK])
    done = client(transport, clock).consume("build", 2)
    keys = {sent.headers["Idempotency-Key"] for sent in transport.sent}
    assert len(transport.sent) == 4
    assert keys == {done.idempotency_key}
    assert {str(sent.body) for sent in transport.sent} == {str({"feature": "build", "quantity": 2})}
    assert (done.charged, done.entry_id) == (6, "le_1")


def test_each_logical_consume_gets_a_fresh_uuid4_key() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [OK, OK])
    tg = client(transport, clock)
    first, second = tg.consume("build"), tg.consume("build")
    assert first.idempotency_key != second.idempotency_key
    assert len(first.idempotency_key) == 36 and first.idempotency_key[14] == "4"


def test_a_caller_supplied_idempotency_key_is_used_as_given() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [refused(), OK])
    client(transport, clock).consume("build", idempotency_key="job-42-step-3")
    assert [sent.headers["Idempotency-Key"] for sent in transport.sent] == ["job-42-step-3"] * 2


def test_consume_asks_for_the_minimal_answer() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [OK])
    client(transport, clock).consume("build")
    assert transport.sent[0].headers["Prefer"] == "return=minimal"
    assert transport.sent[0].method == "POST"


def test_a_reused_key_with_another_body_is_a_conflict_not_retried() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [error(409, "IDEMPOTENCY_KEY_REUSED")])
    with pytest.raises(sdk.IdempotencyKeyReused):
        client(transport, clock).consume("build", idempotency_key="k")
    assert len(transport.sent) == 1


def test_not_enough_tokens_is_a_typed_error_and_nothing_is_retried() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [error(402, "INSUFFICIENT_TOKENS")])
    with pytest.raises(sdk.InsufficientTokens):
        client(transport, clock).consume("build", 1000)
    assert len(transport.sent) == 1


def test_a_budget_refusal_names_its_level() -> None:
    clock = FakeClock()
    scope = "environment:pj_0000000000000001:production"
    body = {"error": {"code": "ENVIRONMENT_BUDGET_EXHAUSTED", "message": "no", "request_id": "r", "limit": scope}}
    transport = FakeTransport(clock, [answer(402, body)])
    with pytest.raises(sdk.EnvironmentBudgetExhausted) as refused:
        client(transport, clock).consume("build", 1)
    assert refused.value.limit == scope and isinstance(refused.value, sdk.PaymentRequired)
    assert len(transport.sent) == 1


def test_one_client_is_shared_safely_by_many_threads() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, handler=lambda sent: OK)
    tg = client(transport, clock)
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: tg.consume("build"), range(200)))
    assert len(transport.sent) == 200
    assert len({d.idempotency_key for d in done}) == 200
    assert {sent.headers["Idempotency-Key"] for sent in transport.sent} == {d.idempotency_key for d in done}
