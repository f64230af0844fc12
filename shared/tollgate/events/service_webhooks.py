"""Webhook endpoints: where a tenant wants its events delivered, and the rules of delivery.

- An endpoint is ``{url, events, description?}``. ``events`` is a non-empty list of event types from
  ``EVENT_TYPES`` without repeats, or ``["*"]`` for every type (those added later included). The URL is
  ``https`` with a DNS name or a public address; ``http`` only on the local stack, and only to 127.0.0.0/8.
  A literal private, loopback, link-local, multicast or metadata address is refused here; a name is
  resolved and vetted again at every send (``tollgate.events.sender``).
- Its secret (``whsec_…``) is shown once, at creation and at rotation. A rotation keeps the previous secret
  signing for ``ROTATION_OVERLAP_S`` (24 h): both signatures travel in ``webhook-signature``.
- Deliveries are at least once: one delivery per event and endpoint (``webhook-id`` stable across its
  attempts), retried with exponential backoff and jitter (``retry_delay_s``) for at least
  ``RETRY_WINDOW_S`` (3 days) after its first attempt. An endpoint whose attempts have all failed for
  ``DISABLE_AFTER_S`` (5 days) is disabled, with a ``webhook_endpoint.disabled`` event; ``enable`` turns it
  back on, its history kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from tollgate.core.clock import Clock
from tollgate.core.errors import Conflict, InvalidField
from tollgate.core.ids import IdGenerator
from tollgate.core.models import Principal
from tollgate.events.rules import EVENT_TYPES, Event

ENDPOINT_ID = "we"
ALL_EVENTS = "*"
TEST_EVENT = "webhook.test"  # sent by POST …/{id}/test, to that endpoint only
DISABLED_EVENT = "webhook_endpoint.disabled"

URL_MAX = 2048
DESCRIPTION_MAX = 500
MAX_ENDPOINTS = 20  # per tenant
ROTATION_OVERLAP_S = 24 * 3600
RETRY_WINDOW_S = 3 * 86_400
DISABLE_AFTER_S = 5 * 86_400
FIRST_RETRY_S = 30
MAX_RETRY_S = 6 * 3600
CLAIM_S = 60  # a delivery being attempted is not picked up by another worker for this long

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    tenant_id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    status: EndpointStatus
    created_at: int
    secret_sealed: str
    previous_secret_sealed: str | None = None
    previous_until: int | None = None  # the previous secret signs until then (rotation overlap)
    rotated_at: int | None = None
    failing_since: int | None = None  # the first failed attempt since the last success
    disabled_at: int | None = None
    version: int = 0

    def subscribed(self, event_type: str) -> bool:
        if event_type == TEST_EVENT:
            return False  # a test event names its one endpoint
        return ALL_EVENTS in self.events or event_type in self.events


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # retries are scheduled
    DELIVERED = "delivered"
    FAILED = "failed"  # the retry window is over
    ABANDONED = "abandoned"  # the endpoint was disabled or deleted


@dataclass(frozen=True)
class Delivery:
    """One event to one endpoint, over all its attempts."""

    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: str  # the signed JSON payload, the same on every attempt
    status: DeliveryStatus
    attempts: int
    first_attempt_at: int
    next_attempt_at: int | None = None
    version: int = 0


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryAttempt:
    tenant_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    webhook_id: str
    number: int  # 1 for the first attempt
    at: int
    status_code: int | None
    error: str | None
    duration_ms: int
    outcome: AttemptOutcome
    next_attempt_at: int | None = None

    @property
    def id(self) -> str:
        return f"{self.event_id}.{self.number}"


@dataclass(frozen=True)
class AttemptPage:
    attempts: list[DeliveryAttempt]
    cursor: str | None


def payload(event: Event) -> str:
    """The body every endpoint gets for an event (Standard Webhooks' ``type``/``timestamp``/``data``)."""
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(event.at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {"id": event.id, "type": event.type, "timestamp": stamp, "data": event.data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


# ------------------------------------------------------------------------------------------ backoff


def retry_delay_s(attempt: int, random: Callable[[], float]) -> int:
    """The wait after failed attempt number ``attempt`` (1-based): 30 s doubling up to 6 h, less up to a
    quarter of it at random (jitter spreads a failing endpoint's retries without ever waiting longer)."""
    ceiling = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** min(attempt - 1, 20))
    return max(1, ceiling - int(ceiling * 0.25 * random()))


def next_attempt(first_attempt_at: int, now: int, attempt: int, random: Callable[[], float]) -> int | None:
    """When to try again after failed attempt ``attempt`` at ``now``; None once ``RETRY_WINDOW_S`` has passed
    since the first attempt (so the last attempt is at least that late)."""
    if now - first_attempt_at >= RETRY_WINDOW_S:
        return None
    return now + retry_delay_s(attempt, random)


def should_disable(endpoint: WebhookEndpoint, now: int) -> bool:
    return (
        endpoint.status is EndpointStatus.ENABLED
        and endpoint.failing_since is not None
        and now - endpoint.failing_since >= DISABLE_AFTER_S
    )


# ------------------------------------------------------------------------------------- validation


def check_url(url: str, *, allow_loopback_http: bool) -> str:
    """The URL if an endpoint may have it; ``InvalidField("url")`` naming why not."""
    from tollgate.events.guard import parse_literal, refusal

    if not isinstance(url, str) or not url or len(url) > URL_MAX:
        raise InvalidField("url", f"must be an https URL of at most {URL_MAX} characters")
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url):
        raise InvalidField("url", "must be ASCII without spaces or control characters (punycode for other names)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidField("url", "is not a URL") from exc
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host or parts.netloc.endswith(":"):
        raise InvalidField("url", "must be an https URL with a host")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidField("url", "must not carry credentials")
    if parts.fragment:
        raise InvalidField("url", "must not have a fragment")
    if port == 0:
        raise InvalidField("url", "has no usable port")
    literal = parse_literal(host)
    if parts.scheme == "http":
        loopback = literal is not None and literal.version == 4 and literal.is_loopback
        if not (allow_loopback_http and loopback):
            raise InvalidField("url", "must be https")
    if literal is not None:
        why = refusal(literal, allow_loopback=allow_loopback_http)
        if why is not None:
            raise InvalidField("url", f"points to {why}")
        return url
    labels = host.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise InvalidField("url", "must name a public host (a DNS name with a domain, or a public address)")
    if labels[-1] in ("localhost", "local", "internal", "localdomain") or host.rstrip(".") == "localhost":
        raise InvalidField("url", "must name a public host")
    return url


def check_events(events: Sequence[str]) -> tuple[str, ...]:
    if not events:
        raise InvalidField("events", 'must name at least one event type, or be ["*"] for all')
    if len(set(events)) != len(events):
        raise InvalidField("events", "must not repeat a type")
    if ALL_EVENTS in events:
        if len(events) != 1:
            raise InvalidField("events", '"*" stands alone')
        return (ALL_EVENTS,)
    unknown = [e for e in events if e not in EVENT_TYPES or e == TEST_EVENT]
    if unknown:
        raise InvalidField("events", f"unknown event type {unknown[0][:64]!r}; see EVENT_TYPES in the docs")
    return tuple(events)


# ------------------------------------------------------------------------------------------- ports


class WebhookEndpointRepository(Protocol):
    def add(self, endpoint: WebhookEndpoint, limit: int) -> None:
        """Store a new endpoint; ``Conflict`` when the tenant already has ``limit``."""
        ...

    def get(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
        """``NotFound`` if the tenant has no such endpoint."""
        ...

    def list(self, tenant_id: str) -> list[WebhookEndpoint]: ...

    def delete(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint: ...

    def rotate(self, before: WebhookEndpoint, after: WebhookEndpoint) -> bool:
        """Replace the secrets if the endpoint is still as read (its version); False if it changed."""
        ...

    def attempts(self, tenant_id: str, endpoint_id: str, cursor: str | None, limit: int) -> AttemptPage: ...

    def enable(self, before: WebhookEndpoint, after: WebhookEndpoint) -> bool:
        """Write the enabled endpoint if it is still as read (its version); False if it changed."""
        ...

    def send_test(self, endpoint: WebhookEndpoint, event: Event) -> None:
        """Write the test event to the outbox (the notifier delivers it as any other)."""
        ...


class SecretSealer(Protocol):
    def seal(self, secret: str, tenant_id: str, endpoint_id: str) -> str: ...

    def open(self, sealed: str, tenant_id: str, endpoint_id: str) -> str: ...


class WebhookEndpointService:
    def __init__(
        self,
        endpoints: WebhookEndpointRepository,
        sealer: SecretSealer,
        clock: Clock,
        ids: IdGenerator,
        new_secret: Callable[[], str],
        allow_loopback_http: Callable[[], bool],
    ) -> None:
        self._endpoints = endpoints
        self._sealer = sealer
        self._clock = clock
        self._ids = ids
        self._new_secret = new_secret
        self._allow_loopback_http = allow_loopback_http

    def create(self, caller: Principal, url: str, events: Sequence[str], description: str | None) -> IssuedEndpoint:
        url = check_url(url, allow_loopback_http=self._allow_loopback_http())
        kinds = check_events(events)
        endpoint_id = self._ids.new_id(ENDPOINT_ID)
        secret = self._new_secret()
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            tenant_id=caller.tenant_id,
            url=url,
            events=kinds,
            description=description,
            status=EndpointStatus.ENABLED,
            created_at=self._clock.now(),
            secret_sealed=self._sealer.seal(secret, caller.tenant_id, endpoint_id),
        )
        self._endpoints.add(endpoint, MAX_ENDPOINTS)
        return IssuedEndpoint(endpoint, secret)

    def list(self, caller: Principal) -> list[WebhookEndpoint]:
        return self._endpoints.list(caller.tenant_id)

    def get(self, caller: Principal, endpoint_id: str) -> WebhookEndpoint:
        return self._endpoints.get(caller.tenant_id, endpoint_id)

    def delete(self, caller: Principal, endpoint_id: str) -> WebhookEndpoint:
        return self._endpoints.delete(caller.tenant_id, endpoint_id)

    def rotate_secret(self, caller: Principal, endpoint_id: str) -> IssuedEndpoint:
        """A new secret, shown once; the current one keeps signing for ``ROTATION_OVERLAP_S``. A rotation
        inside the overlap of the last one drops the oldest secret (only two ever sign)."""
        for _ in range(3):
            before = self._endpoints.get(caller.tenant_id, endpoint_id)
            now = self._clock.now()
            secret = self._new_secret()
            after = replace(
                before,
                secret_sealed=self._sealer.seal(secret, caller.tenant_id, endpoint_id),
                previous_secret_sealed=before.secret_sealed,
                previous_until=now + ROTATION_OVERLAP_S,
                rotated_at=now,
                version=before.version + 1,
            )
            if self._endpoints.rotate(before, after):
                return IssuedEndpoint(after, secret)
        raise Conflict("the endpoint changed while its secret was rotated; try again")

    def enable(self, caller: Principal, endpoint_id: str) -> WebhookEndpoint:
        """Enable an endpoint again (one disabled after 5 days of failure): its deliveries and attempts stay;
        its failing spell starts afresh, so the next failure does not disable it at once. Enabling an enabled
        endpoint changes nothing."""
        for _ in range(3):
            before = self._endpoints.get(caller.tenant_id, endpoint_id)
            if before.status is EndpointStatus.ENABLED:
                return before
            after = replace(
                before,
                status=EndpointStatus.ENABLED,
                disabled_at=None,
                failing_since=None,
                version=before.version + 1,
            )
            if self._endpoints.enable(before, after):
                return after
        raise Conflict("the endpoint changed while it was enabled; try again")

    def send_test(self, caller: Principal, endpoint_id: str) -> Event:
        """A ``webhook.test`` event through the outbox, delivered to this endpoint only, like any other."""
        endpoint = self._endpoints.get(caller.tenant_id, endpoint_id)
        now = self._clock.now()
        data: dict[str, Any] = {"endpoint_id": endpoint.id, "message": "a test event from Tollgate"}
        event = Event(id=self._ids.new_id("ev"), tenant_id=caller.tenant_id, type=TEST_EVENT, at=now, data=data)
        self._endpoints.send_test(endpoint, event)
        return event

    def deliveries(self, caller: Principal, endpoint_id: str, cursor: str | None, limit: int) -> AttemptPage:
        self._endpoints.get(caller.tenant_id, endpoint_id)  # 404 for an unknown (or another tenant's) endpoint
        return self._endpoints.attempts(caller.tenant_id, endpoint_id, cursor, limit)


def signing_keys(endpoint: WebhookEndpoint, sealer: SecretSealer, now: int) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during the overlap."""
    keys = [sealer.open(endpoint.secret_sealed, endpoint.tenant_id, endpoint.id)]
    if endpoint.previous_secret_sealed and endpoint.previous_until is not None and now < endpoint.previous_until:
        keys.append(sealer.open(endpoint.previous_secret_sealed, endpoint.tenant_id, endpoint.id))
    return keys
