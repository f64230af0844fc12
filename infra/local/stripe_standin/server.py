"""HTTP for the stand-in: routing, API-key auth, idempotency keys, expansion, JSON and HTML answers.

Three surfaces share one port: Stripe's ``/v1`` API (form-encoded in, JSON out, Bearer ``sk_…``), the
local controls under ``/_standin`` (JSON in and out, no auth) and the hosted Checkout page under
``/checkout``. Webhooks caused by a request are delivered after the store lock is released and before
the answer is sent.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from . import api, controls, objects, page
from .context import Call, Core
from .errors import IDEMPOTENCY, ApiError
from .expand import expand
from .forms import Params, decode
from .state import Replay, Store
from .webhooks import Courier

JSON = dict[str, Any]
H = TypeVar("H")
log = logging.getLogger("tollgate.stripe_standin")

MAX_BODY_BYTES = 1 << 20
SHUTDOWN_POLL_S = 0.5
MAX_IDEMPOTENCY_KEY = 255
NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using "
    "Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)

_API_ROUTES = [(method, re.compile(pattern), handler) for method, pattern, handler in api.ROUTES]
_CONTROL_ROUTES = [(method, re.compile(pattern), control) for method, pattern, control in controls.ROUTES]
_PAGE = re.compile(r"/checkout/([^/]+)")
_PAY = re.compile(r"/checkout/([^/]+)/pay")


def _request_id() -> str:
    return f"req_{secrets.token_hex(7)}"


def _redact(key: str) -> str:
    return f"{key[:8]}{'*' * max(len(key) - 12, 0)}{key[-4:]}" if len(key) > 12 else "***"


def _api_key(authorization: str | None) -> str:
    """The secret key from ``Bearer sk_…`` (or Basic auth with the key as user name, as curl -u sends)."""
    if not authorization:
        raise ApiError(401, NO_KEY_MESSAGE)
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "basic":
        try:
            credential = base64.b64decode(credential, validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            credential = ""
    elif scheme.lower() != "bearer":
        raise ApiError(401, NO_KEY_MESSAGE)
    if not credential:
        raise ApiError(401, NO_KEY_MESSAGE)
    if not credential.startswith("sk_"):
        raise ApiError(401, f"Invalid API Key provided: {_redact(credential)}")
    return credential


def _route(routes: list[tuple[str, re.Pattern[str], H]], method: str, path: str) -> tuple[H, tuple[str, ...]]:
    for route_method, pattern, target in routes:
        match = pattern.fullmatch(path)
        if match is not None and route_method == method:
            return target, match.groups()
    raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")


def _fingerprint(method: str, path: str, params: JSON) -> str:
    return json.dumps([method, path, params], sort_keys=True)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], core: Core) -> None:
        super().__init__(address, Handler)
        self.core = core


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would delay keep-alive replies
    server_version = "TollgateStripeStandin/1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # Plumbing

    @property
    def core(self) -> Core:
        return self.server.core

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ApiError(400, "Chunked request bodies are not supported; send Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(400, "Invalid or too large Content-Length.")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, payload: JSON, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, indent=2).encode("utf-8"), "application/json", headers)

    def _send_html(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

    def _dispatch(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        request_id = _request_id()
        headers = {"Request-Id": request_id}
        try:
            body = self._read_body()
            if path.startswith("/v1/"):
                self._api(method, path, query, body, request_id)
            elif path.startswith("/_standin/"):
                self._control(method, path, body)
            elif path.startswith("/checkout/"):
                self._page(method, path)
            else:
                raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")
        except ApiError as exc:
            self._send_json(exc.status, exc.body(), headers)
        except Exception:
            log.exception("stand-in failed on %s %s", method, path)
            error = {"type": "api_error", "message": "The Stripe stand-in failed on this request; see its log."}
            self._send_json(500, {"error": error}, headers)

    # Stripe's API

    def _api(self, method: str, path: str, query: str, body: bytes, request_id: str) -> None:
        _api_key(self.headers.get("Authorization"))
        handler, args = _route(_API_ROUTES, method, path)
        text = body.decode("utf-8", errors="replace") if method == "POST" else query
        params = decode(parse_qsl(text, keep_blank_values=True))
        key = self.headers.get("Idempotency-Key") if method == "POST" else None
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
            raise ApiError(
                400, f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} characters.", error_type=IDEMPOTENCY
            )
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": self.headers.get("Stripe-Version") or objects.API_VERSION,
        }
        if key is not None:
            headers["Idempotency-Key"] = key
        fingerprint = _fingerprint(method, path, params)
        store = self.core.store
        with store.transaction():
            kept = store.replays.get(key) if key is not None else None
            if kept is None:
                reply = handler(self.core, Call(Params(params), args, request_id, key))
                answer = copy.deepcopy(reply.body)
                expand(answer, Params(params).strings("expand"), store.find, self._virtual_field)
                if key is not None:
                    store.replays[key] = Replay(fingerprint, reply.status, answer)
        if kept is not None:
            if kept.fingerprint != fingerprint:
                raise ApiError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters they were first used "
                    f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                    error_type=IDEMPOTENCY,
                )
            self._send_json(kept.status, kept.body, {**headers, "Idempotent-Replayed": "true"})
            return
        for event_id in reply.deliver:
            self.core.courier.deliver(event_id)
        self._send_json(reply.status, answer, headers)

    def _virtual_field(self, node: JSON, name: str) -> JSON | None:
        """Fields Stripe shows only when expanded: a Checkout Session's ``line_items``."""
        if node.get("object") == "checkout.session" and name == "line_items":
            items = api.session_line_items(self.core.store, node["id"])
            url = f"/v1/checkout/sessions/{node['id']}/line_items"
            return objects.list_object(copy.deepcopy(items[:10]), url, has_more=len(items) > 10)
        return None

    # Local controls

    def _control(self, method: str, path: str, body: bytes) -> None:
        control, args = _route(_CONTROL_ROUTES, method, path)
        try:
            payload = json.loads(body) if body.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "The control's body must be a JSON object.") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "The control's body must be a JSON object.")
        self._send_json(200, control(self.core, args, payload))

    # Hosted Checkout page

    def _page(self, method: str, path: str) -> None:
        pay = _PAY.fullmatch(path)
        show = _PAGE.fullmatch(path)
        if method == "POST" and pay:
            self._pay(pay.group(1))
        elif method == "GET" and show:
            session_id = show.group(1)
            with self.core.store.lock:
                session = self.core.store.find(session_id)
                if session is None or session["object"] != "checkout.session":
                    self._send_html(404, page.not_found(session_id))
                    return
                session = copy.deepcopy(session)
                items = copy.deepcopy(api.session_line_items(self.core.store, session_id))
            html = page.checkout(session, items) if session["status"] == "open" else page.closed(session)
            self._send_html(200, html)
        else:
            self._send_html(404, page.not_found(path))

    def _pay(self, session_id: str) -> None:
        try:
            result = controls.complete_and_deliver(self.core, session_id, paid=True)
        except ApiError as exc:
            if exc.status == 404:
                self._send_html(404, page.not_found(session_id))
                return
            with self.core.store.lock:
                session = copy.deepcopy(self.core.store.get("checkout.session", session_id))
            self._send_html(409, page.closed(session))
            return
        session = result["session"]
        if session["success_url"]:
            location = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            self._send(HTTPStatus.SEE_OTHER, b"", "text/plain; charset=utf-8", {"Location": location})
        else:
            self._send_html(200, page.closed(session))


class StandinServer:
    """A running stand-in: ``url``, ``port``, the account (``store``) and ``stop()``."""

    def __init__(self, httpd: _HTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.core = httpd.core
        self.store = httpd.core.store
        self.url = httpd.core.base_url
        self.port = int(httpd.server_address[1])

    def stop(self) -> None:
        """Stop serving and close the port. Connecting to the port wakes the serving loop at once, so that
        stopping does not wait for its next poll."""
        stopper = threading.Thread(target=self._httpd.shutdown, daemon=True)
        stopper.start()
        host = str(self._httpd.server_address[0])
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection((host, self.port), timeout=0.2).close()
            stopper.join(0.01)
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StandinServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_standin(
    port: int,
    webhook_url: str | None,
    webhook_secret: str,
    host: str = "127.0.0.1",
    clock: Callable[[], float] = time.time,
) -> StandinServer:
    """Serve the stand-in on ``host:port`` (0: a free port) in a daemon thread. ``clock``: the local stack
    passes its application clock, so Stripe's timestamps move with ``POST /_local/clock`` as the app's do."""
    store = Store(clock=clock, webhooks_enabled=webhook_url is not None)
    core = Core(store=store, courier=Courier(store, webhook_url, webhook_secret), base_url="")
    httpd = _HTTPServer((host, port), core)
    core.base_url = f"http://{host}:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": SHUTDOWN_POLL_S},
        name=f"stripe-standin-{httpd.server_address[1]}",
        daemon=True,
    )
    thread.start()
    log.info("Stripe stand-in on %s, webhooks to %s", core.base_url, webhook_url or "(none)")
    return StandinServer(httpd, thread)
