"""Fixtures for the Stripe stand-in: a running stand-in, a webhook receiver, the real stripe SDK."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from infra.local.stripe_standin import StandinServer, start_standin

WEBHOOK_SECRET = "whsec_test_standin_secret"
API_KEY = "sk_test_standin"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny webhook endpoint that keeps every request and answers ``status``."""

    url: str = ""
    status: int = 200
    received: list[Delivery] = field(default_factory=list)
    on_receive: Callable[[Delivery], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [delivery.event for delivery in self.received]


def _receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            delivery = Delivery(dict(self.headers.items()), body)
            with receiver.lock:
                receiver.received.append(delivery)
            if receiver.on_receive is not None:
                receiver.on_receive(delivery)
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/stripe/webhook"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def standin(receiver: Receiver) -> Iterator[StandinServer]:
    server = start_standin(0, receiver.url, WEBHOOK_SECRET)
    yield server
    server.stop()


@pytest.fixture
def client(standin: StandinServer) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": standin.url}, max_network_retries=0)


def raw_http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


@dataclass
class Harness:
    """The stand-in, the real SDK pointed at it, the webhook receiver, and shortcuts the tests share."""

    standin: StandinServer
    # A stripe.StripeClient; typed Any because the SDK types every field Optional and every params argument
    # as a TypedDict, which would bury these tests in casts.
    client: Any
    receiver: Receiver

    def http(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """A raw call to the stand-in that does not follow redirects: (status, headers, body)."""
        return raw_http(method, f"{self.standin.url}{path}", body, headers)

    def control(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a ``/_standin`` control; it must answer 200."""
        payload = json.dumps(body or {}).encode()
        status, _, raw = self.http("POST", f"/_standin{path}", payload, {"Content-Type": "application/json"})
        assert status == 200, raw
        return json.loads(raw)

    def get(self, path: str) -> dict[str, Any]:
        """The raw JSON of a ``GET /v1/…``, to see exactly the keys the stand-in answers."""
        status, _, raw = self.http("GET", path, headers={"Authorization": f"Bearer {API_KEY}"})
        assert status == 200, raw
        return json.loads(raw)

    def new_session(self, **extra: Any) -> Any:
        """A Checkout Session for 2 x 5.00 + 1 x 19.99 = 29.99 USD."""
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {"currency": "usd", "unit_amount": 500, "product_data": {"name": "100 tokens"}},
                    "quantity": 2,
                },
                {
                    "price_data": {"currency": "usd", "unit_amount": 1999, "product_data": {"name": "1k tokens"}},
                    "quantity": 1,
                },
            ],
            "metadata": {"purchase_id": "pur_1"},
            "success_url": "https://tollgate.example/paid?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://tollgate.example/cancelled",
            **extra,
        }
        return self.client.v1.checkout.sessions.create(params=params)

    def paid_charge(self) -> tuple[str, str]:
        """Pay a new session; return (session id, charge id)."""
        session = self.new_session()
        done = self.control(f"/checkout/sessions/{session.id}/complete")
        intent = self.client.v1.payment_intents.retrieve(done["session"]["payment_intent"])
        assert isinstance(intent.latest_charge, str)
        return session.id, intent.latest_charge


@pytest.fixture
def harness(standin: StandinServer, client: stripe.StripeClient, receiver: Receiver) -> Harness:
    return Harness(standin, client, receiver)
