"""Each webhook attempt is bounded IN TOTAL (connect, TLS, headers and body), however slowly the receiver
sends (issue 20, defect 2). The receivers here are real TCP servers on 127.0.0.1 that drip: the headers and
then one byte a second, the headers themselves a byte a second, or nothing at all after accepting. Each
records whether the sender hung up before it had sent everything: that, not a stopwatch, is the proof that
the attempt did not wait for the drip."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from tollgate.events.sender import WebhookSender

BOUND_S = 0.5  # the per-attempt bound the tests give the sender (the deployed one is 5 s)
EVERY_S = BOUND_S / 5  # a byte this often: well inside any per-read timeout, as 1 byte/s is inside 5 s
DRIP_S = 30  # how long each receiver would take to send its whole answer
BYTES = int(DRIP_S / EVERY_S)


@dataclass
class Dripper:
    """A receiver that answers ``answer`` one byte every ``every_s`` after sending ``head`` at once."""

    head: bytes
    answer: bytes
    every_s: float = EVERY_S
    accepted: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)  # the receiver is done, either way
    cut_off: bool = False  # the sender closed the connection before the receiver had sent everything
    sent: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        self.accepted.set()
        with conn:
            try:
                conn.settimeout(2)
                _read_request(conn)
                conn.sendall(self.head)
                for byte in self.answer:
                    if self._hung_up(conn) or self.stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    self.sent += 1
            except OSError:
                self.cut_off = True  # the sender hung up (reset or broken pipe)
            finally:
                self.finished.set()

    def _hung_up(self, conn: socket.socket) -> bool:
        """Waits ``every_s``; True (and ``cut_off``) if the sender closed the connection meanwhile."""
        readable, _, _ = select.select([conn], [], [], self.every_s)
        if readable and not conn.recv(1):
            self.cut_off = True
            return True
        return False


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@pytest.fixture
def dripping() -> Iterator[Callable[[Dripper], str]]:
    started: list[tuple[socket.socket, Dripper, threading.Thread]] = []

    def start(dripper: Dripper) -> str:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        thread = threading.Thread(target=dripper.serve, args=(listener,), daemon=True)
        thread.start()
        started.append((listener, dripper, thread))
        return f"http://127.0.0.1:{listener.getsockname()[1]}/hook"

    yield start
    for listener, dripper, thread in started:
        dripper.stop.set()
        listener.close()
        thread.join(10)


def _body_drip() -> Dripper:
    answer = b"x" * BYTES
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n" % len(answer)
    return Dripper(head=head, answer=answer)


def _sender() -> WebhookSender:
    return WebhookSender(allow_loopback=True, total_timeout_s=BOUND_S, connect_timeout_s=BOUND_S)


def _assert_cut_off(dripper: Dripper) -> None:
    """The receiver noticed the sender hang up long before its drip would have ended."""
    assert dripper.finished.wait(DRIP_S / 2), "the receiver was still sending: the attempt waited for the drip"
    assert dripper.cut_off and dripper.sent < len(dripper.answer)


def test_a_receiver_that_sends_its_headers_then_drips_the_body_is_a_failed_attempt(
    dripping: Callable[[Dripper], str],
) -> None:
    dripper = _body_drip()
    url = dripping(dripper)
    started = time.monotonic()
    result = _sender().send(url, b"{}", {})
    elapsed = time.monotonic() - started
    assert not result.ok
    assert result.status_code == 200 and result.error is not None and result.error.startswith("timeout")
    _assert_cut_off(dripper)
    assert elapsed < DRIP_S / 2  # far from the drip's 30 s, however busy the machine


def test_a_receiver_that_drips_its_headers_is_a_failed_attempt(dripping: Callable[[Dripper], str]) -> None:
    dripper = Dripper(head=b"", answer=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slow: " + b"y" * BYTES + b"\r\n\r\n")
    url = dripping(dripper)
    result = _sender().send(url, b"{}", {})
    assert not result.ok and result.status_code is None
    assert result.error is not None and result.error.startswith("timeout")
    _assert_cut_off(dripper)


def test_a_receiver_that_accepts_and_never_answers_is_a_failed_attempt(dripping: Callable[[Dripper], str]) -> None:
    dripper = Dripper(head=b"", answer=b"H", every_s=DRIP_S)  # one byte after DRIP_S, unless cut off first
    url = dripping(dripper)
    result = _sender().send(url, b"{}", {})
    assert not result.ok and result.status_code is None
    assert result.error is not None and result.error.startswith("timeout")
    _assert_cut_off(dripper)


def test_a_prompt_answer_with_a_huge_body_is_delivered_without_reading_it_all(
    dripping: Callable[[Dripper], str],
) -> None:
    """A 2xx whose body never ends counts once its status and headers are in: the sender reads a bounded
    prefix of the body and hangs up, it does not wait for the rest."""
    answer = b"z" * (4 * 1024 * 1024)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer)
    dripper = Dripper(head=head + answer, answer=b"", every_s=0)
    url = dripping(dripper)
    result = _sender().send(url, b"{}", {})
    assert result.ok and result.status_code == 200 and result.error is None


def test_endless_headers_are_a_failed_attempt(dripping: Callable[[Dripper], str]) -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n"
    dripper = Dripper(head=head, answer=b"", every_s=0)
    url = dripping(dripper)
    result = _sender().send(url, b"{}", {})
    assert not result.ok and result.status_code is None and result.error is not None


def test_the_bound_is_a_setting_used_by_the_notifier(monkeypatch: pytest.MonkeyPatch) -> None:
    from tollgate import services
    from tollgate.core.settings import settings

    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("TOLLGATE_WEBHOOK_ATTEMPT_S", "0.25")
    settings.cache_clear()
    services.notifier_service.cache_clear()
    try:
        assert settings().webhook_attempt_s == 0.25
        assert services.notifier_service()._sender._total_timeout_s == 0.25  # type: ignore[attr-defined]
    finally:
        settings.cache_clear()
        services.notifier_service.cache_clear()
