"""The notifier: delivers outbox events to the tenant's webhook endpoints, at least once.

From the stream (``deliver_event``): for each enabled endpoint subscribed to the event's type (a
``webhook.test`` event: the one endpoint it names) that has no delivery of this event yet, one attempt now;
then the delivery is written with its attempt, in one transaction, whatever the attempt's outcome: delivered,
or pending with its next attempt on the ``by_due`` index. If that write fails the event's stream record is
reported failed and comes again (the receiver may then see the same ``webhook-id`` twice: at least once). An
event redelivered by the stream after its deliveries were written sends nothing again.

From the schedule (``retry_due``): every pending delivery whose next attempt is due is claimed (a conditional
write on its version, so two runs never attempt it both), attempted, and written back with its attempt.

After each attempt the endpoint's health follows: a success clears ``failing_since``; a failure sets it if
unset; an endpoint failing for ``DISABLE_AFTER_S`` is disabled, with a ``webhook_endpoint.disabled`` event in
the same transaction, and its pending deliveries are abandoned when next due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from tollgate.core.clock import Clock
from tollgate.events.rules import Event, SendResult, event_id
from tollgate.events.service_webhooks import (
    CLAIM_S,
    DISABLED_EVENT,
    TEST_EVENT,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    SecretSealer,
    WebhookEndpoint,
    next_attempt,
    payload,
    should_disable,
    signing_keys,
)

LOG = logging.getLogger(__name__)


class Sender(Protocol):
    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult: ...


Signer = Callable[[str, int, str, Sequence[str]], dict[str, str]]  # (webhook id, timestamp, body, keys)


@dataclass(frozen=True)
class DueDelivery:
    tenant_id: str
    endpoint_id: str
    event_id: str


class DeliveryStore(Protocol):
    def endpoints(self, tenant_id: str) -> list[WebhookEndpoint]: ...

    def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None: ...

    def delivered_to(self, tenant_id: str, event_id: str, endpoint_ids: Sequence[str]) -> set[str]:
        """Of ``endpoint_ids``, those that already have a delivery of this event."""
        ...

    def add(self, delivery: Delivery, attempt: DeliveryAttempt) -> bool:
        """Write a new delivery with its first attempt; False if the delivery exists already."""
        ...

    def due(self, now: int, limit: int) -> list[DueDelivery]: ...

    def delivery(self, tenant_id: str, endpoint_id: str, event_id: str) -> Delivery | None: ...

    def change(self, before: Delivery, after: Delivery, attempt: DeliveryAttempt | None) -> bool:
        """Replace the delivery (and add the attempt) if it is still as read (version); False if not."""
        ...

    def mark_failing(self, endpoint: WebhookEndpoint, since: int) -> None: ...

    def mark_healthy(self, endpoint: WebhookEndpoint) -> None: ...

    def disable(self, endpoint: WebhookEndpoint, now: int, event: Event) -> bool: ...


@dataclass
class NotifyReport:
    events: int = 0
    attempts: int = 0
    delivered: int = 0
    failed: int = 0
    skipped: int = 0
    abandoned: int = 0
    disabled: int = 0
    errors: int = 0
    failed_records: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "failed_records"}


class NotifierService:
    def __init__(
        self,
        store: DeliveryStore,
        sender: Sender,
        signer: Signer,
        sealer: SecretSealer,
        clock: Clock,
        random: Callable[[], float],
        workers: int = 16,
    ) -> None:
        self._store = store
        self._sender = sender
        self._sign = signer
        self._sealer = sealer
        self._clock = clock
        self._random = random
        self._workers = workers

    # ------------------------------------------------------------------------------- the stream

    def deliver_events(self, events: Sequence[tuple[str, Event]]) -> NotifyReport:
        """Deliver a batch of (record id, event), in parallel; the report lists the record ids that failed
        (their delivery could not be written), to be reported to the stream as batch item failures."""
        report = NotifyReport(events=len(events))
        if not events:
            return report
        endpoints: dict[str, list[WebhookEndpoint] | None] = {}  # one read per tenant per batch
        for _, event in events:
            if event.tenant_id not in endpoints and event.type != TEST_EVENT:
                try:
                    endpoints[event.tenant_id] = self._store.endpoints(event.tenant_id)
                except Exception:
                    LOG.exception("reading the endpoints of tenant %s failed", event.tenant_id)
                    endpoints[event.tenant_id] = None
        with ThreadPoolExecutor(max(1, min(self._workers, len(events)))) as pool:
            outcomes = list(pool.map(lambda pair: self._deliver_safely(pair[1], endpoints), events))
        for (record_id, _), outcome in zip(events, outcomes, strict=True):
            if outcome is None:
                report.errors += 1
                report.failed_records.append(record_id)
                continue
            for key, value in outcome.items():
                setattr(report, key, getattr(report, key) + value)
        return report

    def _deliver_safely(
        self, event: Event, endpoints: dict[str, list[WebhookEndpoint] | None]
    ) -> dict[str, int] | None:
        known = endpoints.get(event.tenant_id)
        if event.type != TEST_EVENT and known is None:
            return None  # its endpoints could not be read: the record comes again
        try:
            return self.deliver_event(event, known)
        except Exception:
            LOG.exception("delivering event %s of tenant %s failed", event.id, event.tenant_id)
            return None

    def deliver_event(self, event: Event, endpoints: list[WebhookEndpoint] | None = None) -> dict[str, int]:
        counts = {"attempts": 0, "delivered": 0, "failed": 0, "skipped": 0, "disabled": 0}
        targets = self._targets(event, endpoints)
        if not targets:
            return counts
        done = self._store.delivered_to(event.tenant_id, event.id, [e.id for e in targets])
        body = payload(event)
        for endpoint in targets:
            if endpoint.id in done:
                counts["skipped"] += 1
                continue
            now = self._clock.now()
            attempt = self._attempt(endpoint, event.id, event.type, body, 1, now, now)
            delivery = Delivery(
                tenant_id=event.tenant_id,
                endpoint_id=endpoint.id,
                event_id=event.id,
                event_type=event.type,
                body=body,
                status=_status_after(attempt),
                attempts=1,
                first_attempt_at=now,
                next_attempt_at=attempt.next_attempt_at,
            )
            if not self._store.add(delivery, attempt):
                counts["skipped"] += 1  # written meanwhile by another run of the same record
                continue
            counts["attempts"] += 1
            counts["delivered" if attempt.outcome is AttemptOutcome.DELIVERED else "failed"] += 1
            counts["disabled"] += self._follow_health(endpoint, attempt, now)
        return counts

    def _targets(self, event: Event, endpoints: list[WebhookEndpoint] | None) -> list[WebhookEndpoint]:
        if event.type == TEST_EVENT:
            named = event.data.get("endpoint_id")
            endpoint = self._store.endpoint(event.tenant_id, named) if isinstance(named, str) else None
            return [endpoint] if endpoint is not None else []
        return [
            e
            for e in (self._store.endpoints(event.tenant_id) if endpoints is None else endpoints)
            if e.status is EndpointStatus.ENABLED and e.subscribed(event.type)
        ]

    # ------------------------------------------------------------------------------- retries

    def retry_due(self, remaining_ms: Callable[[], int] | None = None, margin_ms: int = 20_000) -> NotifyReport:
        report = NotifyReport()
        while remaining_ms is None or remaining_ms() > margin_ms:
            now = self._clock.now()
            due = self._store.due(now, 100)
            if not due:
                break
            with ThreadPoolExecutor(max(1, min(self._workers, len(due)))) as pool:
                outcomes = list(pool.map(self._retry_safely, due))
            progressed = False
            for outcome in outcomes:
                if outcome is None:
                    report.errors += 1
                    continue
                progressed = True
                setattr(report, outcome, getattr(report, outcome) + 1)
                if outcome in ("delivered", "failed"):
                    report.attempts += 1
            if not progressed or len(due) < 100:
                break
        return report

    def _retry_safely(self, due: DueDelivery) -> str | None:
        try:
            return self.retry(due)
        except Exception:
            LOG.exception("retrying delivery of event %s to endpoint %s failed", due.event_id, due.endpoint_id)
            return None

    def retry(self, due: DueDelivery) -> str:
        """One due delivery: ``delivered``, ``failed`` (attempted, not delivered), ``abandoned`` or
        ``skipped`` (not due after all, or another run has it)."""
        now = self._clock.now()
        delivery = self._store.delivery(due.tenant_id, due.endpoint_id, due.event_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return "skipped"
        if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
            return "skipped"
        endpoint = self._store.endpoint(due.tenant_id, due.endpoint_id)
        if endpoint is None or (endpoint.status is not EndpointStatus.ENABLED and delivery.event_type != TEST_EVENT):
            after = replace(
                delivery, status=DeliveryStatus.ABANDONED, next_attempt_at=None, version=delivery.version + 1
            )
            return "abandoned" if self._store.change(delivery, after, None) else "skipped"
        claimed = replace(delivery, next_attempt_at=now + CLAIM_S, version=delivery.version + 1)
        if not self._store.change(delivery, claimed, None):
            return "skipped"
        number = delivery.attempts + 1
        attempt = self._attempt(
            endpoint, delivery.event_id, delivery.event_type, delivery.body, number, delivery.first_attempt_at, now
        )
        after = replace(
            claimed,
            status=_status_after(attempt),
            attempts=number,
            next_attempt_at=attempt.next_attempt_at,
            version=claimed.version + 1,
        )
        if not self._store.change(claimed, after, attempt):
            return "skipped"
        self._follow_health(endpoint, attempt, now)
        return "delivered" if attempt.outcome is AttemptOutcome.DELIVERED else "failed"

    # ------------------------------------------------------------------------------- one attempt

    def _attempt(
        self,
        endpoint: WebhookEndpoint,
        event_id: str,
        event_type: str,
        body: str,
        number: int,
        first_attempt_at: int,
        now: int,
    ) -> DeliveryAttempt:
        from tollgate.events.signing import webhook_id

        message_id = webhook_id(event_id, endpoint.id)
        headers = self._sign(message_id, now, body, signing_keys(endpoint, self._sealer, now))
        result = self._sender.send(endpoint.url, body.encode(), headers)
        delivered = result.ok
        return DeliveryAttempt(
            tenant_id=endpoint.tenant_id,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            webhook_id=message_id,
            number=number,
            at=now,
            status_code=result.status_code,
            error=result.error
            if result.error
            else (
                None if delivered else f"answered {result.status_code}; only 2xx counts (redirects are not followed)"
            ),
            duration_ms=result.duration_ms,
            outcome=AttemptOutcome.DELIVERED if delivered else AttemptOutcome.FAILED,
            next_attempt_at=None if delivered else next_attempt(first_attempt_at, now, number, self._random),
        )

    def _follow_health(self, endpoint: WebhookEndpoint, attempt: DeliveryAttempt, now: int) -> int:
        """Keep the endpoint's ``failing_since`` in step; disable it after 5 days of failure. 1 if disabled."""
        if attempt.outcome is AttemptOutcome.DELIVERED:
            if endpoint.failing_since is not None:
                self._store.mark_healthy(endpoint)
            return 0
        if endpoint.failing_since is None:
            self._store.mark_failing(endpoint, now)
            return 0
        if should_disable(endpoint, now):
            data = {
                "endpoint_id": endpoint.id,
                "url": endpoint.url,
                "failing_since": endpoint.failing_since,
                "reason": "every delivery attempt failed for 5 days",
            }
            disabled_id = disabled_event_id(endpoint.id, endpoint.failing_since)
            event = Event(id=disabled_id, tenant_id=endpoint.tenant_id, type=DISABLED_EVENT, at=now, data=data)
            return int(self._store.disable(endpoint, now, event))
        return 0


def _status_after(attempt: DeliveryAttempt) -> DeliveryStatus:
    if attempt.outcome is AttemptOutcome.DELIVERED:
        return DeliveryStatus.DELIVERED
    return DeliveryStatus.PENDING if attempt.next_attempt_at is not None else DeliveryStatus.FAILED


def disabled_event_id(endpoint_id: str, failing_since: int) -> str:
    """One ``webhook_endpoint.disabled`` event per failing spell of an endpoint, however often it is tried."""
    return event_id("webhook_endpoint.disabled", endpoint_id, str(failing_since))
