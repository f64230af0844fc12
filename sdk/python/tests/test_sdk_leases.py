"""lease: heartbeats in the background while the block runs, checks in on exit, and tells the program when
the lease is lost."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from sdk_fakes import FakeClock, FakeTransport, Sent, answer, client, error, refused

import tollgate_sdk as sdk
from tollgate_sdk.background import THREAD_NAME
from tollgate_sdk.transport import HttpResponse


def lease_body(status: str = "open", expires_at: str = "2027-01-15T08:10:00Z", **extra: Any) -> dict[str, Any]:
    return {
        "lease": {
            "id": "ls_0000000000000001",
            "feature": "build",
            "status": status,
            "expires_at": expires_at,
            "heartbeat_interval_s": 15,
            "charged": extra.get("charged"),
        }
    }


class LeaseService:
    def __init__(self, heartbeat: Any = None) -> None:
        self.heartbeat = heartbeat  # None: answer 200; else a callable returning the step
        self.log: list[str] = []

    def __call__(self, sent: Sent) -> HttpResponse | Exception:
        path = sent.url.split("tollgate.test")[1]
        if sent.method == "POST" and path == "/v1/leases":
            self.log.append("open")
            return answer(201, lease_body())
        if path.endswith("/heartbeat"):
            self.log.append("heartbeat")
            return self.heartbeat() if self.heartbeat is not None else answer(200, lease_body())
        if sent.method == "DELETE":
            self.log.append("close")
            return answer(200, lease_body("closed", charged=10))
        raise AssertionError(path)


def wait_for(condition: Any, timeout_s: float = 60.0) -> None:
    """Wait for ``condition`` with a generous bound (a loaded machine is slow, never wrong)."""
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def loop_ended(before: set[threading.Thread]) -> bool:
    """The background thread started since ``before`` has ended: nothing more can be sent from it."""
    return not [t for t in threading.enumerate() if t.name == THREAD_NAME and t not in before and t.is_alive()]


def test_a_lease_heartbeats_in_the_background_and_checks_in_on_exit() -> None:
    clock = FakeClock()
    service = LeaseService()
    transport = FakeTransport(clock, handler=service)
    before = set(threading.enumerate())
    with client(transport, clock).lease("build", 3600, heartbeat_interval_s=0.01) as lease:
        wait_for(lambda: lease.heartbeats >= 3)
        assert not lease.lost.is_set()
    assert service.log[0] == "open" and service.log[-1] == "close"
    assert service.log.count("heartbeat") >= 3
    assert (lease.status, lease.charged) == ("closed", 10)
    wait_for(lambda: loop_ended(before))
    assert service.log[-1] == "close", "no heartbeat after check-in"
    opened = transport.sent[0]
    assert opened.body == {"feature": "build", "duration_s": 3600}
    assert opened.headers["Idempotency-Key"] == lease.idempotency_key


def test_the_server_interval_is_the_default_pace() -> None:
    clock = FakeClock()
    with client(FakeTransport(clock, handler=LeaseService()), clock).lease("build", 45) as lease:
        assert lease.heartbeat_interval_s == 15.0
        assert lease.expires_at == datetime(2027, 1, 15, 8, 10, tzinfo=timezone.utc)


def test_a_lease_the_server_says_is_over_is_lost_and_the_program_is_told() -> None:
    clock = FakeClock()
    service = LeaseService(heartbeat=lambda: error(409, "LEASE_EXPIRED"))
    told: list[sdk.Lease] = []
    told_event = threading.Event()

    def on_lost(lease: sdk.Lease) -> None:
        told.append(lease)
        told_event.set()

    before = set(threading.enumerate())
    with client(FakeTransport(clock, handler=service), clock).lease(
        "build", 60, heartbeat_interval_s=0.01, on_lost=on_lost
    ) as lease:
        assert told_event.wait(60)
        assert lease.lost.is_set()
        assert isinstance(lease.lost_error, sdk.LeaseExpired)
        with pytest.raises(sdk.LeaseExpired):
            lease.raise_if_lost()
        wait_for(lambda: loop_ended(before))  # the lost lease's job is over, and it was the only one
    assert told == [lease]
    assert service.log.count("heartbeat") == 1, "heartbeats stop once the lease is lost"
    assert service.log[-1] == "close", "a lost lease is still checked in"


def test_heartbeats_that_never_get_through_lose_the_lease_at_its_end() -> None:
    clock = FakeClock(now=1_800_000_000.0)
    # the lease ends at 2027-01-15T08:01:00Z, 60 s after the fake clock's start
    service = LeaseService(heartbeat=lambda: refused())

    def handler(sent: Sent) -> HttpResponse | Exception:
        if sent.method == "POST" and sent.url.endswith("/v1/leases"):
            return answer(201, lease_body(expires_at="2027-01-15T08:01:00Z"))
        return service(sent)

    tg = client(FakeTransport(clock, handler=handler), clock, max_retries=0)
    with tg.lease("build", 60, heartbeat_interval_s=0.01) as lease:
        wait_for(lambda: service.log.count("heartbeat") >= 2)
        assert not lease.lost.is_set(), "a failed heartbeat or two before the end costs nothing"
        clock.wall = 1_800_000_061.0
        assert lease.lost.wait(60)
        assert isinstance(lease.lost_error, sdk.LeaseExpired)


def test_a_failed_check_in_does_not_hide_the_programs_own_error() -> None:
    clock = FakeClock()
    service = LeaseService()

    def handler(sent: Sent) -> HttpResponse | Exception:
        return refused() if sent.method == "DELETE" else service(sent)

    tg = client(FakeTransport(clock, handler=handler), clock, max_retries=0)
    with pytest.raises(ZeroDivisionError), tg.lease("build", 60, heartbeat_interval_s=10):
        1 / 0  # noqa: B018
    with pytest.raises(sdk.ConnectionFailed), tg.lease("build", 60, heartbeat_interval_s=10):
        pass
