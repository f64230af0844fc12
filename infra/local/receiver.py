"""The local webhook receiver, at ``/_local/webhooks`` on the local gateway: for tests and for trying
webhooks by hand. Never deployed.

- ``POST /_local/webhooks/{name}``: records the method, the headers and the raw body (base64 and, when it
  is UTF-8, as text) and answers with the name's behaviour: 204 unless told otherwise.
- ``POST /_local/webhooks/{name}/behaviour`` ``{"status": 500}`` (any 200…599; a 3xx is sent with a
  ``Location``, ``{"location": "…"}`` or a default) sets how the name answers from then on.
- ``GET /_local/webhooks/{name}``: ``{"name", "behaviour", "received": [{at, method, headers, body,
  body_base64}]}``, oldest first. ``DELETE /_local/webhooks/{name}`` forgets the name.

Names are 1–64 of ``[A-Za-z0-9_.-]``; each keeps at most 1,000 requests, in memory.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PREFIX = "/_local/webhooks"
MAX_KEPT = 1000

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class _Inbox:
    status: int = 204
    location: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)


def _json(status: int, document: Any, headers: list[tuple[str, str]] | None = None) -> Answer:
    body = json.dumps(document, separators=(",", ":")).encode()
    return status, [("content-type", "application/json"), *(headers or [])], body


def _error(status: int, code: str, message: str) -> Answer:
    return _json(status, {"error": {"code": code, "message": message, "request_id": "local"}})


class WebhookReceiver:
    def __init__(self, now: Callable[[], int] = lambda: int(time.time())) -> None:
        self._inboxes: dict[str, _Inbox] = {}
        self._lock = threading.Lock()
        self._now = now

    def handle(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        rest = path[len(PREFIX) :].strip("/")
        parts = rest.split("/") if rest else []
        if not parts or not _NAME.fullmatch(parts[0]) or len(parts) > 2:
            return _error(404, "NOT_FOUND", "use /_local/webhooks/{name} (1-64 of A-Z a-z 0-9 _ . -)")
        name = parts[0]
        if len(parts) == 2:
            if parts[1] != "behaviour":
                return _error(404, "NOT_FOUND", "use /_local/webhooks/{name}/behaviour")
            if method != "POST":
                return _error(405, "METHOD_NOT_ALLOWED", "use POST")
            return self._behave(name, body)
        if method == "POST":
            return self._receive(name, headers, body)
        if method == "GET":
            return self._list(name)
        if method == "DELETE":
            with self._lock:
                self._inboxes.pop(name, None)
            return _json(200, {"name": name, "deleted": True})
        return _error(405, "METHOD_NOT_ALLOWED", "use POST, GET or DELETE")

    def _behave(self, name: str, body: bytes) -> Answer:
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return _error(400, "MALFORMED_REQUEST", "the body is not JSON")
        status = document.get("status") if isinstance(document, dict) else None
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            return _error(422, "INVALID_FIELD", "status must be an integer from 200 to 599")
        location = document.get("location")
        if location is not None and not isinstance(location, str):
            return _error(422, "INVALID_FIELD", "location must be a string")
        with self._lock:
            inbox = self._inboxes.setdefault(name, _Inbox())
            inbox.status = status
            inbox.location = location or ("https://example.com/elsewhere" if 300 <= status < 400 else None)
        return self._list(name)

    def _receive(self, name: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        try:
            text: str | None = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        record = {
            "at": self._now(),
            "method": "POST",
            "headers": {k.lower(): v for k, v in headers},
            "body": text,
            "body_base64": base64.b64encode(body).decode(),
        }
        with self._lock:
            inbox = self._inboxes.setdefault(name, _Inbox())
            inbox.received.append(record)
            del inbox.received[:-MAX_KEPT]
            status, location = inbox.status, inbox.location
        extra = [("location", location)] if location and 300 <= status < 400 else []
        if status == 204:
            return 204, extra, b""
        return _json(status, {"received": True, "status": status}, extra)

    def _list(self, name: str) -> Answer:
        with self._lock:
            inbox = self._inboxes.get(name) or _Inbox()
            document = {
                "name": name,
                "behaviour": {"status": inbox.status, "location": inbox.location},
                "received": list(inbox.received),
            }
        return _json(200, document)
