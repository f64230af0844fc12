"""allowance: spends counted in process, the next block taken in the background before this one runs out,
cumulative reports (so a lost answer is retried harmlessly), the last count reported on close and at exit,
and a spend past the held block that waits briefly, then raises the renewal's error."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import pytest
from sdk_fakes import FakeClock, FakeTransport, Sent, answer, client, error, refused

import tollgate_sdk as sdk
from tollgate_sdk import allowances
from tollgate_sdk.errors import error_from_response
from tollgate_sdk.transport import HttpResponse

AL_ID = "al_0000000000000001"


class AllowanceService:
    """The server's rules (shared/tollgate/holds/service_allowances.py) for one allowance, with a log of reports."""

    def __init__(self, cost_per_use: int = 1, ttl_s: int = 300) -> None:
        self.cost, self.ttl_s = cost_per_use, ttl_s
        self.block = self.held = self.used = self.charged = 0
        self.status = "open"
        self.reports: list[dict[str, Any]] = []  # settle bodies, in the order they arrived
        self.writes = 0
        self.on_settle: Callable[[dict[str, Any]], HttpResponse | Exception | None] | None = None
        self.lose_next_answer = False  # commit the settlement, then cut the connection
        self.lock = threading.Lock()

    def view(self) -> dict[str, Any]:
        return {
            "allowance": {
                "id": AL_ID,
                "feature": "build",
                "status": self.status,
                "cost_per_use": self.cost,
                "block": self.block,
                "held": self.held,
                "used": self.used,
                "charged": self.charged,
                "ttl_s": self.ttl_s,
                "expires_at": "2027-01-15T08:10:00Z",
            }
        }

    def __call__(self, sent: Sent) -> HttpResponse | Exception:
        path = sent.url.split("tollgate.test")[1]
        if path == "/v1/allowances":
            assert sent.headers["Idempotency-Key"]
            self.block = self.held = int(sent.body["tokens"])
            self.writes += 1
            return answer(201, self.view())
        assert path == f"/v1/allowances/{AL_ID}/settle", path
        body = dict(sent.body)
        with self.lock:
            self.reports.append(body)
        if self.on_settle is not None:
            scripted = self.on_settle(body)
            if scripted is not None:
                return scripted
        with self.lock:
            return self._settle(body)

    def _settle(self, body: dict[str, Any]) -> HttpResponse | Exception:
        used, final, renew = int(body["used"]), bool(body.get("final")), bool(body.get("renew"))
        if self.status != "open":
            if used <= self.used and not renew:
                return answer(200, self.view())
            return error(409, "ALLOWANCE_ENDED")
        if used < self.used or (used == self.used and not final and not renew):
            return answer(200, self.view())
        charge = (used - self.used) * self.cost
        if charge > self.held:
            return error(422, "INVALID_FIELD")
        self.writes += 1
        self.used, self.charged, self.held = used, self.charged + charge, self.held - charge
        if final:
            self.held, self.status = 0, "settled"
        elif renew:
            self.held = self.block
        if self.lose_next_answer:
            self.lose_next_answer = False
            return refused()
        return answer(200, self.view())


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Wait for ``condition`` with a generous bound (a loaded machine is slow, never wrong)."""
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.002)


def setup(service: AllowanceService, **options: Any) -> tuple[sdk.Tollgate, FakeTransport, FakeClock]:
    clock = FakeClock()
    transport = FakeTransport(clock, handler=service)
    return client(transport, clock, **options), transport, clock


def test_the_next_block_is_taken_in_the_background_before_this_one_runs_out() -> None:
    service = AllowanceService()
    tg, transport, _ = setup(service)
    with tg.allowance("build", block=100) as spending:
        for _ in range(90):
            spending.spend()
        assert service.reports == [], "90 of 100 uses: no request yet"
        spending.spend()  # 9 uses left: below a tenth of the block
        wait_for(lambda: service.held == 100 and service.used == 91)
        assert service.reports == [{"used": 91, "renew": True}]
        for _ in range(90):
            spending.spend()  # the renewed hold covers these without waiting, and without asking for more
    assert service.reports[-1] == {"used": 181, "final": True}
    assert (service.status, service.charged, service.held) == ("settled", 181, 0)
    assert [s.method for s in transport.sent].count("POST") == len(transport.sent) == service.writes
    assert spending.reports == service.writes == 3  # the opening, one renewal, the final report


def test_reports_are_cumulative_and_charge_exactly_what_was_spent_by_many_threads() -> None:
    service = AllowanceService(cost_per_use=2)
    tg, _, _ = setup(service)
    threads, each = 8, 1000
    with tg.allowance("build", block=200) as spending:  # 100 uses per block

        def spend_many() -> None:
            for _ in range(each):
                spending.spend()

        workers = [threading.Thread(target=spend_many) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert spending.spent == threads * each
    used = [report["used"] for report in service.reports]
    assert used == sorted(used), "reports only ever grow"
    assert used[-1] == threads * each
    assert (service.charged, service.status) == (2 * threads * each, "settled")
    assert service.writes <= 2 + (threads * each) // 90, service.writes  # about one write per block


def test_a_settlement_whose_answer_was_lost_is_sent_again_and_charged_once() -> None:
    service = AllowanceService()
    tg, transport, clock = setup(service)
    with tg.allowance("build", block=100) as spending:
        service.lose_next_answer = True
        spending.spend(95)  # at once: the renewal it asks for reports 95, whenever the loop gets to it
        wait_for(lambda: len(service.reports) == 2)
        wait_for(lambda: spending.record.used == 95)
    assert service.reports[:2] == [{"used": 95, "renew": True}] * 2, "the same cumulative report, sent again"
    settles = [s for s in transport.sent if s.url.endswith("/settle")]
    assert settles[0].headers == settles[1].headers
    assert clock.sleeps and clock.sleeps[0] < 0.25, "the client's backoff between the two attempts"
    assert (service.charged, service.used) == (95, 95)


def test_closing_reports_the_last_count_and_releases_the_rest() -> None:
    service = AllowanceService()
    tg, _, _ = setup(service)
    spending = tg.allowance("build", block=100)
    with spending:
        for _ in range(7):
            spending.spend(3)
    assert service.reports == [{"used": 21, "final": True}]
    assert (service.charged, service.held, service.status) == (21, 0, "settled")
    spending.close()  # twice: nothing more is sent
    assert len(service.reports) == 1
    with pytest.raises(sdk.AllowanceEnded):
        spending.spend()


def test_the_interpreter_exit_settles_an_allowance_left_open(monkeypatch: pytest.MonkeyPatch) -> None:
    at_exit: list[Callable[[], None]] = []

    class FakeAtexit:
        @staticmethod
        def register(function: Callable[[], None]) -> None:
            at_exit.append(function)

        @staticmethod
        def unregister(function: Callable[[], None]) -> None:
            at_exit.remove(function)

    monkeypatch.setattr(allowances, "atexit", FakeAtexit)
    service = AllowanceService()
    tg, _, _ = setup(service)
    spending = tg.allowance("build", block=100).__enter__()
    spending.spend(12)
    assert len(at_exit) == 1
    at_exit[0]()  # what the interpreter does at exit
    assert service.reports == [{"used": 12, "final": True}]
    assert at_exit == [], "unregistered once settled"

    closed = tg.allowance("build", block=100)
    with closed:
        pass
    assert at_exit == [], "an allowance closed by its program leaves nothing for the exit"


def test_an_exhausted_block_whose_renewal_was_refused_raises_the_refusal() -> None:
    service = AllowanceService()
    service.on_settle = lambda body: error(402, "INSUFFICIENT_TOKENS") if body.get("renew") else None
    tg, _, _ = setup(service)
    with tg.allowance("build", block=10, wait_s=2.0) as spending:
        spending.spend(9)
        spending.spend()  # the last use of the block: the renewal is asked for, and refused
        wait_for(lambda: isinstance(spending.error, sdk.InsufficientTokens))
        with pytest.raises(sdk.InsufficientTokens):
            spending.spend()
        assert spending.spent == 10
    assert service.reports[-1] == {"used": 10, "final": True}
    assert service.charged == 10


def test_a_spend_waits_briefly_for_a_slow_renewal_then_raises_exhausted() -> None:
    release = threading.Event()
    service = AllowanceService()
    service.on_settle = lambda body: (release.wait(60), None)[1] if body.get("renew") else None
    tg, _, _ = setup(service)
    with tg.allowance("build", block=10, wait_s=0.05) as spending:
        spending.spend(10)
        started = time.monotonic()
        with pytest.raises(sdk.AllowanceExhausted):
            spending.spend()
        assert time.monotonic() - started >= 0.04  # it waited (at least wait_s) before giving up
        waiter = threading.Thread(target=spending.spend)  # a spend that waits while the renewal arrives
        spending.wait_s = 60.0
        waiter.start()
        release.set()
        waiter.join(60)
        assert not waiter.is_alive() and spending.spent == 11
    assert service.charged == 11


def test_the_hold_is_renewed_ahead_of_its_end_even_when_nothing_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allowances, "_POLL_S", 0.01)
    service = AllowanceService(ttl_s=60)
    tg, _, clock = setup(service)
    with tg.allowance("build", block=100, ttl_s=60) as spending:
        spending.spend(4)
        time.sleep(0.05)  # not a wait for anything: the loop gets a chance to renew too early, and must not
        assert service.reports == []
        clock.advance(49)  # 11 s before the end: past four fifths of the hold's life
        wait_for(lambda: len(service.reports) == 1)
        assert service.reports == [{"used": 4, "renew": True}]
    assert service.charged == 4


def test_an_allowance_the_server_ended_stops_spending_and_is_not_reported_again() -> None:
    service = AllowanceService()
    service.on_settle = lambda body: error(409, "ALLOWANCE_ENDED") if body.get("renew") else None
    tg, _, _ = setup(service)
    with tg.allowance("build", block=10) as spending:
        spending.spend(10)
        wait_for(lambda: spending.error is not None)
        with pytest.raises(sdk.AllowanceEnded):
            spending.spend()
    assert service.reports == [{"used": 10, "renew": True}], "no final report for an allowance already ended"


def test_spend_refuses_what_no_block_could_hold() -> None:
    service = AllowanceService()
    tg, _, _ = setup(service)
    with tg.allowance("build", block=10) as spending:
        with pytest.raises(ValueError, match="positive"):
            spending.spend(0)
        with pytest.raises(ValueError, match="more than one block"):
            spending.spend(11)
        assert spending.spent == 0


def test_allowance_ended_is_its_own_error() -> None:
    ended = error(409, "ALLOWANCE_ENDED", "allowance al_1 has settled")
    found = error_from_response(ended.status, ended.body, ended.headers)
    assert type(found) is sdk.AllowanceEnded
    assert isinstance(found, sdk.Conflict) and found.status == 409
