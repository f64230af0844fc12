"""The client's one background loop: one thread keeps every open lease alive and renews every allowance before
its hold ends, starts with the first of them, ends with the last, and stops on ``close``."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest
from sdk_fakes import FakeClock, FakeTransport, Sent, client
from test_sdk_allowances import AllowanceService
from test_sdk_leases import LeaseService

from tollgate_sdk import allowances
from tollgate_sdk.background import THREAD_NAME, Background, Job
from tollgate_sdk.transport import HttpResponse

BOUND_S = 60.0  # a generous bound on every wait for a condition: a loaded machine is slow, never wrong


def wait_for(condition: Callable[[], bool]) -> None:
    end = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.002)


def loops() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


class Both:
    """A service for leases and one allowance at once."""

    def __init__(self, ttl_s: int = 60) -> None:
        self.leases = LeaseService()
        self.allowance = AllowanceService(ttl_s=ttl_s)

    def __call__(self, sent: Sent) -> HttpResponse | Exception:
        if "/v1/leases" in sent.url:
            return self.leases(sent)
        return self.allowance(sent)


@pytest.fixture(autouse=True)
def quick_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allowances, "_POLL_S", 0.01)  # the loop looks at the fake clock often


def test_two_leases_and_an_allowance_are_kept_alive_by_one_thread() -> None:
    clock = FakeClock()
    service = Both(ttl_s=60)
    tg = client(FakeTransport(clock, handler=service), clock)
    before = set(threading.enumerate())
    with (
        tg.lease("build", 3600, heartbeat_interval_s=0.01) as first,
        tg.lease("build", 3600, heartbeat_interval_s=0.01) as second,
        tg.allowance("build", block=100, ttl_s=60) as spending,
    ):
        spending.spend(4)
        wait_for(lambda: first.heartbeats >= 3 and second.heartbeats >= 3)
        clock.advance(49)  # 11 s before the hold's end: past four fifths of its life
        wait_for(lambda: len(service.allowance.reports) >= 1)
        assert service.allowance.reports[0] == {"used": 4, "renew": True}, "settled before the hold ended"
        started = [t for t in threading.enumerate() if t not in before]
        assert [t.name for t in started] == [THREAD_NAME], started  # one thread for all three
        assert not first.lost.is_set() and not second.lost.is_set()
    assert service.allowance.reports[-1] == {"used": 4, "final": True}
    assert service.leases.log.count("close") == 2
    wait_for(lambda: not [t for t in loops() if t not in before])  # the last one closed: the thread ends


def test_close_stops_the_loop_and_a_new_lease_starts_it_again() -> None:
    clock = FakeClock()
    service = LeaseService()
    transport = FakeTransport(clock, handler=service)
    tg = client(transport, clock)
    before = set(threading.enumerate())
    lease = tg.lease("build", 3600, heartbeat_interval_s=0.01).__enter__()
    wait_for(lambda: lease.heartbeats >= 2)
    tg.close()  # joins the thread: nothing heartbeats any more
    assert [t for t in loops() if t not in before] == []
    sent = len(transport.sent)
    assert not lease.lost.is_set()
    lease.close()  # the check-in still goes out, from the program's thread
    assert len(transport.sent) == sent + 1 and service.log[-1] == "close"

    with tg.lease("build", 3600, heartbeat_interval_s=0.01) as again:
        wait_for(lambda: again.heartbeats >= 1)
        assert len([t for t in loops() if t not in before]) == 1
    tg.close()


def test_a_lease_closed_while_its_heartbeat_is_in_flight_is_checked_in_after_it() -> None:
    clock = FakeClock()
    in_flight, release = threading.Event(), threading.Event()
    order: list[str] = []
    service = LeaseService()

    def handler(sent: Sent) -> HttpResponse | Exception:
        if sent.url.endswith("/heartbeat") and not release.is_set():
            in_flight.set()
            release.wait(BOUND_S)
            order.append("heartbeat answered")
        elif sent.method == "DELETE":
            order.append("check-in")
        return service(sent)

    tg = client(FakeTransport(clock, handler=handler), clock)
    lease = tg.lease("build", 3600, heartbeat_interval_s=0.01).__enter__()
    assert in_flight.wait(BOUND_S)
    closing = threading.Thread(target=lease.close)
    closing.start()
    release.set()
    closing.join(BOUND_S)
    assert not closing.is_alive()
    assert order == ["heartbeat answered", "check-in"]
    tg.close()


def test_one_job_failing_does_not_stop_the_others() -> None:
    background = Background()
    ran: list[str] = []
    done = threading.Event()

    def broken() -> bool:
        raise RuntimeError("a bug")

    def fine() -> bool:
        ran.append("fine")
        if len(ran) >= 3:
            done.set()
            return False
        return True

    background.add(Job("broken", lambda: 0.0, broken))
    background.add(Job("fine", lambda: 0.0, fine))
    assert done.wait(BOUND_S)
    wait_for(lambda: background.jobs == 0 and not background.running)
    assert ran == ["fine"] * 3


def test_an_on_lost_callback_may_close_its_lease_from_the_loop() -> None:
    clock = FakeClock()
    from sdk_fakes import error

    service = LeaseService(heartbeat=lambda: error(409, "LEASE_EXPIRED"))
    closed = threading.Event()

    def on_lost(lease: object) -> None:
        lease.close()  # type: ignore[attr-defined]  # from the background thread: must not wait for itself
        closed.set()

    tg = client(FakeTransport(clock, handler=service), clock)
    lease = tg.lease("build", 60, heartbeat_interval_s=0.01, on_lost=on_lost).__enter__()
    assert closed.wait(BOUND_S)
    assert lease.status == "closed" and service.log.count("heartbeat") == 1
    tg.close()


def test_a_job_may_remove_itself_while_the_client_closes() -> None:
    """``close`` joins the thread while its job is running; the job takes itself off (an ``on_lost`` that
    closes its lease) and must not wait for its own round to end."""
    background = Background()
    entered, release = threading.Event(), threading.Event()

    def run() -> bool:
        entered.set()
        release.wait(BOUND_S)
        background.remove(job)
        return False

    job = Job("itself", lambda: 0.0, run)
    background.add(job)
    assert entered.wait(BOUND_S)
    closing = threading.Thread(target=background.close)
    closing.start()
    wait_for(lambda: background.jobs == 0)  # close() has begun: it forgot the jobs and is joining the thread
    release.set()
    closing.join(BOUND_S)
    assert not closing.is_alive() and not background.running
