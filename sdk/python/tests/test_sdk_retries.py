"""The retry layer: what is retried, the backoff schedule with full jitter, Retry-After, the deadline, the
typed errors per code, and timeouts on by default."""

from __future__ import annotations

import email.utils

import pytest
from sdk_fakes import BASE, FakeClock, FakeTransport, answer, client, error, refused

import tollgate_sdk as sdk
from tollgate_sdk.retries import Backoff, parse_retry_after
from tollgate_sdk.transport import HttpResponse

OK = answer(200, {"charged": 3, "entry_id": "le_1"})


def test_5xx_is_retried_with_exponential_backoff_and_full_jitter() -> None:
    clock = FakeClock(draws=[0.5, 0.5, 0.5])
    transport = FakeTransport(clock, [error(503, "STORE_BUSY"), error(502, "BAD_GATEWAY"), error(500, "INTERNAL"), OK])
    assert client(transport, clock).consume("build", 3).charged == 3
    # draw × min(cap, 0.25 · 2^retry): 0.5 × 0.25, 0.5 × 0.5, 0.5 × 1.0
    assert clock.sleeps == [0.125, 0.25, 0.5]
    assert len(transport.sent) == 4


def test_the_jittered_wait_is_drawn_between_zero_and_the_capped_exponential() -> None:
    backoff = Backoff(base_s=0.25, cap_s=8.0)
    assert backoff.delay(0, 0.0) == 0.0
    assert backoff.delay(3, 0.999) == pytest.approx(0.999 * 2.0)
    assert backoff.delay(10, 0.999) == pytest.approx(0.999 * 8.0)  # capped, not 0.25 · 1024


def test_retry_after_seconds_is_a_floor_under_the_jittered_wait() -> None:
    clock = FakeClock(draws=[0.5])
    transport = FakeTransport(clock, [error(429, "RATE_LIMITED", Retry_After="3"), OK])
    client(transport, clock).consume("build")
    assert clock.sleeps == [3.0]
    assert transport.sent[1].at - transport.sent[0].at == 3.0


def test_retry_after_as_an_http_date_is_honoured() -> None:
    clock = FakeClock(draws=[0.0])
    when = email.utils.formatdate(clock.now() + 7, usegmt=True)
    transport = FakeTransport(clock, [error(503, "STORE_BUSY", Retry_After=when), OK])
    client(transport, clock).consume("build")
    assert clock.sleeps == [pytest.approx(7.0, abs=1.0)]
    assert parse_retry_after("soon", clock.now()) is None
    assert parse_retry_after(None, clock.now()) is None


def test_a_retry_after_beyond_what_the_client_waits_fails_at_once() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [error(429, "RATE_LIMITED", Retry_After="3600"), OK])
    with pytest.raises(sdk.RateLimited) as raised:
        client(transport, clock).consume("build")
    assert raised.value.retry_after_s == 3600
    assert clock.sleeps == []
    assert len(transport.sent) == 1


def test_max_retries_bounds_the_attempts_and_the_last_error_is_raised_typed() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [error(503, "STORE_BUSY", Retry_After="1")] * 10)
    with pytest.raises(sdk.StoreBusy) as raised:
        client(transport, clock, max_retries=2).consume("build")
    assert len(transport.sent) == 3
    assert isinstance(raised.value, sdk.Unavailable)
    assert (raised.value.status, raised.value.code, raised.value.request_id) == (503, "STORE_BUSY", "req-1")


def test_the_deadline_bounds_the_whole_call_waits_included() -> None:
    clock = FakeClock(draws=[1.0] * 20)
    transport = FakeTransport(clock, [refused()] * 20)
    with pytest.raises(sdk.ConnectionFailed):
        client(transport, clock, max_retries=20, deadline_s=2.0).consume("build")
    # waits of 0.25, 0.5, 1.0 fit in 2 s (1.75 s); the next (2.0) would overrun: no fourth wait
    assert clock.sleeps == [0.25, 0.5, 1.0]
    assert clock.mono <= 2.0
    # each attempt's timeouts are cut to what is left of the deadline
    last = transport.sent[-1]
    assert last.timeout.total_s == pytest.approx(2.0 - last.at)
    assert last.timeout.read_s <= 2.0 - last.at


def test_timeouts_are_on_by_default() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [OK])
    client(transport, clock).consume("build")
    sent = transport.sent[0].timeout
    assert (sent.connect_s, sent.read_s) == (3.0, 10.0)
    assert sent.total_s == 30.0


def test_no_answer_is_retried_and_reported_as_unavailable() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [refused(), refused(), OK])
    assert client(transport, clock).consume("build").charged == 3
    transport = FakeTransport(clock, [refused()] * 4)
    with pytest.raises(sdk.Unavailable) as raised:
        client(transport, clock).consume("build")
    assert isinstance(raised.value, sdk.ConnectionFailed)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "MALFORMED_REQUEST", sdk.MalformedRequest),
        (422, "INVALID_FIELD", sdk.InvalidField),
        (401, "UNAUTHENTICATED", sdk.Unauthenticated),
        (403, "FORBIDDEN", sdk.Forbidden),
        (403, "TENANT_SUSPENDED", sdk.TenantSuspended),
        (403, "REGION_NOT_ALLOWED", sdk.RegionNotAllowed),
        (403, "APPROVAL_REQUIRED", sdk.ApprovalRequired),
        (403, "ACTION_DENIED", sdk.ActionDenied),
        (404, "NOT_FOUND", sdk.NotFound),
        (409, "IDEMPOTENCY_KEY_REUSED", sdk.IdempotencyKeyReused),
        (409, "LEASE_EXPIRED", sdk.LeaseExpired),
        (409, "LEASE_CLOSED", sdk.LeaseClosed),
        (402, "INSUFFICIENT_TOKENS", sdk.InsufficientTokens),
        (402, "PROJECT_BUDGET_EXHAUSTED", sdk.ProjectBudgetExhausted),
        (402, "SOMETHING_NEW", sdk.PaymentRequired),  # an unknown code falls back to its status
        (418, "TEAPOT", sdk.APIError),
    ],
)
def test_each_error_code_raises_its_own_class_and_is_not_retried(
    status: int, code: str, kind: type[sdk.APIError]
) -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [answer(status, {"error": {"code": code, "message": "no", "field": "quantity"}})])
    with pytest.raises(kind) as raised:
        client(transport, clock).consume("build")
    assert type(raised.value) is kind
    assert raised.value.code == code
    assert len(transport.sent) == 1


def test_requests_carry_the_key_the_region_and_go_to_the_base_url() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [OK])
    client(transport, clock, region="eu-west-1").consume("build")
    sent = transport.sent[0]
    assert sent.url == BASE + "/v1/consume"
    assert sent.headers["Authorization"].startswith("Bearer tgk_")
    assert sent.headers["X-Tollgate-Region"] == "eu-west-1"


def test_a_success_that_is_not_json_is_an_api_error_not_a_crash() -> None:
    clock = FakeClock()
    transport = FakeTransport(clock, [HttpResponse(200, {}, b"<html>captive portal</html>")])
    with pytest.raises(sdk.APIError, match="not JSON"):
        client(transport, clock).consume("build")
