"""The vendor SDK (sdk/python) against the local stack, over real HTTP: validation online then offline with
the API unreachable, a consume whose answer is lost after the server committed (charged once), and a lease
kept alive by its heartbeats well past its duration, then checked in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tollgate_sdk import ClockTampered, ConnectionFailed, KeyRevoked, LeaseClosed, Tollgate, Unavailable
from tollgate_sdk.clock import SystemClock

from tests.integration.conftest import Stack, http
from tests.integration.tcp_proxy import TcpProxy, header_of
from tests.integration.test_leases_concurrency import assert_consistent, ledger

pytestmark = pytest.mark.integration
COST_PER_USE = 1  # feature "build" in infra/catalog.json
COST_PER_HOUR = 10


BOUND_S = 120.0  # a generous bound on every wait for a condition: a loaded machine is slow, never wrong


class StackClock(SystemClock):
    """The SDK's clock set to the local stack's application clock (other tests move it forward)."""

    def __init__(self, stack: Stack) -> None:
        super().__init__()
        self.offset_s = int(http("GET", stack.api + "/_local/clock").body["offset_s"])

    def now(self) -> float:
        return time.time() + self.offset_s


class LongestWaits(StackClock):
    """Every backoff draws its longest wait, and the waits are recorded: the schedule is known in advance."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack)
        self.sleeps: list[float] = []

    def random(self) -> float:
        return 0.999

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


def api_port(stack: Stack) -> int:
    return int(stack.api.rsplit(":", 1)[1])


def license_key(stack: Stack, owner: str) -> str:
    answer = stack.call("POST", "/v1/keys", {"name": "sdk", "regions": ["us", "eu"]}, key=owner)
    assert answer.status == 201, answer.body
    return str(answer.body["secret"])


@pytest.fixture
def proxy(stack: Stack) -> Iterator[TcpProxy]:
    with TcpProxy(api_port(stack)) as running:
        yield running


def sdk(key: str, base_url: str, stack: Stack, **options: Any) -> Tollgate:
    options.setdefault("deadline_s", 20.0)
    return Tollgate(key, base_url, clock=StackClock(stack), **options)


def test_validate_online_then_offline_with_the_api_unreachable(stack: Stack, proxy: TcpProxy, tmp_path: Path) -> None:
    tenant_id, owner = stack.signup()
    key = license_key(stack, owner)
    cache = str(tmp_path / "receipts.json")
    tg = sdk(key, proxy.url, stack, max_retries=1, receipt_cache_path=cache)

    online = tg.validate(feature="build", region="eu-west-1")
    assert (online.valid, online.code, online.offline) == (True, "VALID", False)
    assert online.receipt.claims["tenant_id"] == tenant_id
    assert online.expires_at - online.issued_at == timedelta(seconds=300)  # datetimes, from the signed claims
    assert online.issued_at.tzinfo is not None and online.issued_at.utcoffset() == timedelta(0)
    assert len(proxy.requests_to("/v1/.well-known/jwks.json")) == 1

    proxy.close()  # the API is unreachable from here on
    offline = tg.validate(feature="build", region="eu-west-1")
    assert (offline.valid, offline.offline) == (True, True)
    assert offline.receipt.token == online.receipt.token
    with pytest.raises(ConnectionFailed):
        tg.validate(feature="deploy", region="eu-west-1")  # never validated online: nothing to fall back on

    restarted = sdk(key, proxy.url, stack, max_retries=0, receipt_cache_path=cache)  # a new process, offline
    again = restarted.validate(feature="build", region="eu-west-1")
    assert (again.valid, again.offline) == (True, True)


def test_a_revoked_key_validates_as_revoked_online(stack: Stack) -> None:
    _, owner = stack.signup()
    key = license_key(stack, owner)
    tg = sdk(key, stack.api, stack)
    assert tg.validate(feature="build").valid
    key_id = key.split(".")[2]
    assert stack.call("DELETE", f"/v1/keys/{key_id}", key=owner).status == 200
    result = tg.validate(feature="build")
    assert (result.valid, result.code, result.offline) == (False, "REVOKED", False)
    with pytest.raises(KeyRevoked):
        result.raise_if_invalid()


def test_a_local_clock_set_back_an_hour_is_refused_as_tampered(stack: Stack) -> None:
    _, owner = stack.signup()
    tg = sdk(license_key(stack, owner), stack.api, stack)
    assert tg.validate(feature="build").valid
    behind = StackClock(stack)
    behind.offset_s -= 3600
    tampered = Tollgate(license_key(stack, owner), stack.api, clock=behind)
    with pytest.raises(ClockTampered):
        tampered.validate(feature="build")


def test_a_consume_whose_answer_is_lost_after_the_commit_is_retried_and_charged_once(
    stack: Stack, proxy: TcpProxy
) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    key = license_key(stack, owner)
    tg = sdk(key, proxy.url, stack, max_retries=3)

    proxy.cut_responses(1)  # the first consume reaches the server, commits, and its answer is dropped
    done = tg.consume("build", 7)

    assert proxy.cut == 1
    sent = proxy.requests_to("/v1/consume")
    assert len(sent) == 2, "sent once, then retried once"
    assert {header_of(head, "Idempotency-Key") for head in sent} == {done.idempotency_key}
    assert done.charged == 7 * COST_PER_USE
    pool = assert_consistent(stack, owner)
    assert pool["balance"] == 100 - 7 * COST_PER_USE
    consumed = [entry for entry in ledger(stack, owner) if entry["kind"] != "grant"]
    assert [(e["amount"], e["idempotency_key"]) for e in consumed] == [(-7 * COST_PER_USE, done.idempotency_key)]
    stack.audit(tenant_id)


def test_an_unreachable_api_fails_a_consume_within_its_deadline(stack: Stack, proxy: TcpProxy) -> None:
    _, owner = stack.signup()
    key = license_key(stack, owner)
    proxy.close()
    clock = LongestWaits(stack)
    tg = Tollgate(key, proxy.url, clock=clock, max_retries=10, deadline_s=1.5)
    started = time.monotonic()
    with pytest.raises(Unavailable):
        tg.consume("build")
    # Ten retries would wait 0.25 + 0.5 + 1 + 2 + 4 + 8 · 5 s (×0.999); the deadline stops them after the
    # waits that fit in 1.5 s, whatever the machine's speed.
    assert sum(clock.sleeps) < 1.5 and len(clock.sleeps) <= 2, clock.sleeps
    assert time.monotonic() - started < 30.0  # and the call itself ends, far sooner than the ten retries


def test_a_lease_is_kept_alive_past_its_duration_by_heartbeats_and_checked_in(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    key = license_key(stack, owner)
    tg = sdk(key, stack.api, stack)
    lost: list[object] = []

    with tg.lease("build", 60, heartbeat_interval_s=0.2, on_lost=lost.append) as lease:
        assert lease.status == "open"
        assert lease.record.heartbeat_interval_s == 20  # the server's pace: a third of 60 s
        assert assert_consistent(stack, owner)["reserved"] == COST_PER_HOUR
        for _ in range(4):  # 4 × 30 s of application time: far past 60 s without heartbeats
            seen = lease.heartbeats
            stack.advance(30)  # 30 s of the 60 left: room for a slow machine's next heartbeat
            deadline = time.monotonic() + BOUND_S
            while lease.heartbeats < seen + 2:  # one heartbeat sent wholly after the clock moved
                assert time.monotonic() < deadline, "no heartbeat got through"
                assert not lease.lost.is_set(), lease.lost_error
                time.sleep(0.05)  # polling the count, bounded by the deadline above
        assert not lease.lost.is_set()
        assert lease.status == "open"

    assert lost == []
    assert (lease.status, lease.charged) == ("closed", COST_PER_HOUR)  # 120 s and more: one hour started
    record = lease.record  # the server's answer, typed: its times are aware UTC datetimes
    assert record.started_at is not None and record.ended_at is not None and record.expires_at is not None
    assert record.started_at.utcoffset() == timedelta(0)
    assert record.ended_at - record.started_at >= timedelta(seconds=120)
    pool = assert_consistent(stack, owner)
    assert (pool["balance"], pool["reserved"]) == (100 - COST_PER_HOUR, 0)
    assert [e["amount"] for e in ledger(stack, owner) if e["kind"] == "lease_charge"] == [-COST_PER_HOUR]
    stack.audit(tenant_id)


def test_a_lease_closed_under_the_program_is_reported_lost(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    tg = sdk(license_key(stack, owner), stack.api, stack)
    lost: list[object] = []
    with tg.lease("build", 600, heartbeat_interval_s=0.2, on_lost=lost.append) as lease:
        assert stack.call("DELETE", f"/v1/leases/{lease.id}", key=owner).status == 200  # an admin checks it in
        assert lease.lost.wait(BOUND_S), "the next heartbeat finds the lease closed"
        assert isinstance(lease.lost_error, LeaseClosed)
    assert lost == [lease]
    assert (lease.status, lease.charged) == ("closed", COST_PER_HOUR)
    pool = assert_consistent(stack, owner)
    assert (pool["balance"], pool["reserved"]) == (100 - COST_PER_HOUR, 0)
    stack.audit(tenant_id)
