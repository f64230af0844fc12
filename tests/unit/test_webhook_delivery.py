"""Signing and sending webhooks for real, to a throwaway HTTP server on 127.0.0.1: signatures that the
Standard Webhooks library verifies (both secrets during a rotation), redirects not followed, the deployed
setting refusing loopback before connecting, short timeouts, and the notifier's delivery rules with fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tollgate.events.sender import WebhookSender, bounded
from tollgate.events.signing import new_secret, signed_headers, webhook_id


class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 204
        self.location: str | None = None
        self.delay_s = 0.0
        self.released = threading.Event()  # set at teardown: a delayed answer stops waiting


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if state.delay_s:
                state.released.wait(state.delay_s)
            self.send_response(state.status)
            if state.location:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.released.set()
        server.shutdown()
        server.server_close()


def test_a_signed_delivery_verifies_with_the_standard_webhooks_library(receiver: tuple[Receiver, str]) -> None:
    state, base = receiver
    secret = new_secret()
    body = '{"type":"purchase.paid","data":{"purchase_id":"pu_1"}}'
    headers = signed_headers(webhook_id("ev_1", "we_1"), int(time.time()), body, [secret])
    result = WebhookSender(allow_loopback=True).send(base + "/hook?x=1", body.encode(), headers)
    assert result.ok and result.status_code == 204 and result.error is None
    [(path, got, raw)] = state.got
    assert path == "/hook?x=1"
    assert Webhook(secret).verify(raw, got) == {"type": "purchase.paid", "data": {"purchase_id": "pu_1"}}
    assert got["webhook-id"] == "msg_ev_1_we_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(raw, got)


def test_during_a_rotation_both_secrets_verify_and_a_third_does_not() -> None:
    old, new = new_secret(), new_secret()
    body = '{"a":1}'
    headers = signed_headers("msg_x", int(time.time()), body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(body, headers) == {"a": 1}
    assert Webhook(new).verify(body, headers) == {"a": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(receiver: tuple[Receiver, str]) -> None:
    state, base = receiver
    state.status, state.location = 302, base + "/elsewhere"
    result = WebhookSender(allow_loopback=True).send(base + "/hook", b"{}", {})
    assert result.status_code == 302 and not result.ok
    assert [path for path, _, _ in state.got] == ["/hook"]  # nothing went to /elsewhere


def test_the_deployed_setting_refuses_loopback_without_connecting(receiver: tuple[Receiver, str]) -> None:
    state, base = receiver
    for url in (base + "/hook", base.replace("http://", "https://") + "/hook", base.replace("127.0.0.1", "localhost")):
        result = WebhookSender(allow_loopback=False).send(url, b"{}", {})
        assert result.status_code is None and result.error is not None and result.error.startswith("refused")
    assert state.got == []


def test_a_slow_receiver_times_out_within_the_budget(receiver: tuple[Receiver, str]) -> None:
    state, base = receiver
    state.delay_s = 60.0  # far past the budget, whatever the machine's speed
    result = WebhookSender(allow_loopback=True, total_timeout_s=0.5, connect_timeout_s=0.5).send(base, b"{}", {})
    assert result.status_code is None and result.error is not None and result.error.startswith("timeout")


def test_a_closed_port_is_a_connection_error_not_an_exception() -> None:
    result = WebhookSender(allow_loopback=True).send("http://127.0.0.1:9/x", b"{}", {})
    assert result.status_code is None and result.error is not None and not result.ok


def test_a_lookup_that_hangs_is_refused_within_its_bound_and_nothing_is_sent(receiver: tuple[Receiver, str]) -> None:
    """getaddrinfo has no timeout of its own: a name server that never answers must not hold a delivery."""
    state, base = receiver
    released = threading.Event()

    def hanging(host: str, port: int) -> list[Any]:
        released.wait(60)
        return []

    sender = WebhookSender(allow_loopback=True, resolver=bounded(hanging, 0.2))
    started = time.monotonic()
    result = sender.send(base.replace("127.0.0.1", "hooks.example.com"), b"{}", {})
    elapsed = time.monotonic() - started
    released.set()
    assert result.error == "refused: the host does not resolve"
    assert elapsed < 30.0  # the bound, not the 60 s the lookup would have taken
    assert state.got == []


def test_a_bounded_resolver_answers_what_the_resolver_answers() -> None:
    import ipaddress

    address = ipaddress.ip_address("93.184.216.34")
    assert bounded(lambda host, port: [address], 1.0)("example.com", 443) == [address]

    answered = threading.Event()

    def slow(host: str, port: int) -> list[Any]:
        answered.wait(60)  # until the test is done with it: far past the bound, whatever the machine's speed
        return [address]

    with pytest.raises(OSError, match=r"example\.com"):
        bounded(slow, 0.05)("example.com", 443)
    answered.set()


def test_logs_redact_endpoint_secrets_and_standard_webhooks_signatures_whole() -> None:
    from tollgate.core.redaction import redact

    secret = new_secret()
    headers = signed_headers("msg_1", int(time.time()), "{}", [secret, new_secret()])
    line = redact(f"secret={secret} signature={headers['webhook-signature']}")
    assert secret[6:] not in line and "whsec_" not in line
    for signature in headers["webhook-signature"].split(" "):
        assert signature.split(",")[1] not in line


def test_the_host_is_resolved_once_per_attempt_and_the_vetted_address_is_the_one_connected_to(
    receiver: tuple[Receiver, str],
) -> None:
    """DNS rebinding between the check and the send: a name that answers a vetted address first and another
    one after is looked up once, and the connection goes to the address that was vetted (the name travels
    in ``Host`` only)."""
    import ipaddress

    state, base = receiver
    port = base.rsplit(":", 1)[1]
    answers = iter(["127.0.0.1", "10.0.0.1"])
    lookups: list[str] = []

    def rebinding(host: str, _port: int) -> list[Any]:
        lookups.append(host)
        return [ipaddress.ip_address(next(answers))]

    result = WebhookSender(allow_loopback=True, resolver=rebinding).send(
        f"http://hooks.example.com:{port}/h", b"{}", {}
    )
    assert result.ok, result
    assert lookups == ["hooks.example.com"]
    [(path, headers, _)] = state.got
    assert path == "/h" and headers["host"] == f"hooks.example.com:{port}"
