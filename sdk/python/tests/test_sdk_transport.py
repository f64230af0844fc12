"""The real transport (urllib3) against a small HTTP server on 127.0.0.1: connections are reused, timeouts
are real, and a refused connection is a TransportError the client retries and reports."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

import tollgate_sdk as sdk
from tollgate_sdk.transport import Timeout, Urllib3Transport


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    delay_s = 0.0
    peers: ClassVar[list[tuple[str, int]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).peers.append(self.client_address)
        time.sleep(type(self).delay_s)
        body = b'{"charged": 1, "entry_id": "le_1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and left is the point of some tests


@pytest.fixture
def server() -> Iterator[tuple[str, type[Handler]]]:
    handler = type("Answering", (Handler,), {"delay_s": 0.0, "peers": []})
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_calls_reuse_one_connection(server: tuple[str, type[Handler]]) -> None:
    url, handler = server
    with sdk.Tollgate("tgk_x", url) as tg:
        for _ in range(5):
            tg.consume("build")
    assert len(handler.peers) == 5
    assert len(set(handler.peers)) == 1, "five calls, one TCP connection"


def test_a_read_timeout_is_real(server: tuple[str, type[Handler]]) -> None:
    url, handler = server
    handler.delay_s = 60.0  # far longer than any stall of a loaded machine: only the timeout ends the wait
    transport = Urllib3Transport()
    started = time.monotonic()
    with pytest.raises(sdk.TransportError):
        transport.request("POST", url + "/v1/consume", {}, b"{}", Timeout(connect_s=1.0, read_s=0.2))
    assert time.monotonic() - started < 30.0


def test_a_silent_server_fails_the_call_by_its_deadline(server: tuple[str, type[Handler]]) -> None:
    url, handler = server
    handler.delay_s = 60.0  # without the deadline: ten attempts of a 10 s read timeout each
    started = time.monotonic()
    with pytest.raises(sdk.ConnectionFailed), sdk.Tollgate("tgk_x", url, max_retries=10, deadline_s=0.6) as tg:
        tg.consume("build")
    assert time.monotonic() - started < 30.0


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    clock_start = time.monotonic()
    with (
        pytest.raises(sdk.ConnectionFailed),
        sdk.Tollgate("tgk_x", f"http://127.0.0.1:{port}", max_retries=2, backoff=sdk.Backoff(base_s=0.01)) as tg,
    ):
        tg.consume("build")
    assert time.monotonic() - clock_start < 30.0  # refused at once, three times: no wait for a timeout
