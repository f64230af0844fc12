"""Sign and deliver webhooks as Stripe does.

``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint
secret>``, the raw JSON body, ``Content-Type: application/json; charset=utf-8``. Delivery is one
synchronous attempt; its outcome is reported and logged, never raised.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .state import Store

JSON = dict[str, Any]
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None


def post(url: str, payload: bytes, signature: str, timeout_s: float) -> Outcome:
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": USER_AGENT,
            "Cache-Control": "no-cache",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
            return Outcome(response.status, None)
    except urllib.error.HTTPError as exc:
        return Outcome(exc.code, f"endpoint answered HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}")


class Courier:
    """Delivers recorded events to one endpoint and logs each attempt in the store."""

    def __init__(self, store: Store, url: str | None, secret: str, *, timeout_s: float = 10.0) -> None:
        self.store = store
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s

    def deliver(self, event_id: str) -> JSON:
        """Send the event's frozen payload with a fresh signature. Never call it holding the store lock."""
        with self.store.lock:
            payload = self.store.payloads[event_id]
        if self.url is None:
            return self._record(event_id, Outcome(None, None), skipped="no webhook URL configured")
        outcome = post(self.url, payload, signature_header(payload, self.secret, self.store.now()), self.timeout_s)
        return self._record(event_id, outcome)

    def skip(self, event_id: str, reason: str) -> JSON:
        return self._record(event_id, Outcome(None, None), skipped=reason)

    def _record(self, event_id: str, outcome: Outcome, *, skipped: str | None = None) -> JSON:
        delivered = outcome.status is not None and 200 <= outcome.status < 300
        report: JSON = {"status": outcome.status, "error": outcome.error, "delivered": delivered, "skipped": skipped}
        with self.store.lock:
            if delivered:
                self.store.get("event", event_id)["pending_webhooks"] = 0
            self.store.deliveries.append({"event": event_id, "url": self.url, "at": self.store.now(), **report})
        return report
