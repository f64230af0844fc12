"""The notifier: delivers outbox events to the tenant's webhook endpoints, at least once.

From the stream (``deliver_events``): for each enabled endpoint subscribed to the event's type (a
``webhook.test`` event: the one endpoint it names) that has no delivery of this event yet, one attempt now;
then the delivery is written with its attempt, in one transaction, whatever the attempt's outcome: delivered,
or pending with its next attempt on the ``by_due`` index. If that write fails the event's stream record is
reported failed and comes again (the receiver may then see the same ``webhook-id`` twice: at least once). An
event redelivered by the stream after its deliveries were written sends nothing again.

From the schedule (``retry_due``): every pending delivery whose next attempt is due is claimed (a conditional
write on its version, so two runs never attempt it both), attempted, and written back with its attempt.

Slow receivers: each attempt is bounded in total (``Settings.webhook_attempt_s``, the sender cuts a dripping
answer off); within one batch or run the attempts go one queue per endpoint, and after a failed attempt the
endpoint's other deliveries are put off with backoff, untried, so one slow tenant costs the shared batch one
bounded attempt per endpoint (``deliver_events``).

After each attempt the endpoint's health follows: a success clears ``failing_since``; a failure sets it if
unset; an endpoint failing for ``DISABLE_AFTER_S`` is disabled, with a ``webhook_endpoint.disabled`` event in
the same transaction, and its pending deliveries are abandoned when next due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

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
    retry_delay_s,
    should_disable,
    signing_keys,
)

LOG = logging.getLogger(__name__)

BATCH_BUDGET_S = 60.0  # no attempt of a stream batch starts later than this (the function's timeout is 120 s)


_Item = TypeVar("_Item")


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

    def add(self, delivery: Delivery, attempt: DeliveryAttempt | None) -> bool:
        """Write a new delivery with its first attempt (None: put off, untried); False if it exists already."""
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
    deferred: int = 0  # written (or put off) pending, untried: their endpoint failed in this run, or time ran out
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
        batch_budget_s: float = BATCH_BUDGET_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._sender = sender
        self._sign = signer
        self._sealer = sealer
        self._clock = clock
        self._random = random
        self._workers = workers
        self._batch_budget_s = batch_budget_s
        self._monotonic = monotonic

    # ------------------------------------------------------------------------------- the stream

    def deliver_events(self, events: Sequence[tuple[str, Event]]) -> NotifyReport:
        """Deliver a batch of (record id, event); the report lists the record ids that failed (their delivery
        could not be written), to be reported to the stream as batch item failures.

        The attempts run in parallel, one queue per endpoint (its events in order), the queues interleaved
        tenant by tenant so that no tenant's endpoints take every worker first. Within a queue, once an
        attempt has failed (a receiver that is down, or that drips and is cut off at the per-attempt bound)
        the endpoint's other deliveries of this batch are written pending with backoff, untried: one slow
        receiver costs the batch one bounded attempt. No attempt starts once ``batch_budget_s`` has passed;
        what is left is written pending and due now, and the schedule (``retry_due``) takes it."""
        report = NotifyReport(events=len(events))
        if not events:
            return report
        started = self._monotonic()
        endpoints: dict[str, list[WebhookEndpoint] | None] = {}  # one read per tenant per batch
        for _, event in events:
            if event.tenant_id not in endpoints and event.type != TEST_EVENT:
                try:
                    endpoints[event.tenant_id] = self._store.endpoints(event.tenant_id)
                except Exception:
                    LOG.exception("reading the endpoints of tenant %s failed", event.tenant_id)
                    endpoints[event.tenant_id] = None
        broken: set[str] = set()
        jobs: list[_Job] = []
        with ThreadPoolExecutor(max(1, min(self._workers, len(events)))) as pool:
            plans = list(pool.map(lambda pair: self._plan_safely(pair[0], pair[1], endpoints), events))
        for (record_id, _), plan in zip(events, plans, strict=True):
            if plan is None:
                broken.add(record_id)
                continue
            jobs.extend(plan[0])
            report.skipped += plan[1]
        queues = _interleaved(jobs, key=lambda job: (job.event.tenant_id, job.endpoint.id))
        if queues:
            with ThreadPoolExecutor(max(1, min(self._workers, len(queues)))) as pool:
                results = list(pool.map(lambda queue: self._deliver_queue(queue, started), queues))
            for counts, failed in results:
                broken |= failed
                for key, value in counts.items():
                    setattr(report, key, getattr(report, key) + value)
        report.failed_records = [record_id for record_id, _ in events if record_id in broken]
        report.errors = len(report.failed_records)
        return report

    def _plan_safely(
        self, record_id: str, event: Event, endpoints: dict[str, list[WebhookEndpoint] | None]
    ) -> tuple[list[_Job], int] | None:
        """The (event, endpoint) pairs still to deliver and how many were delivered already; None when the
        endpoints could not be read (the record comes again)."""
        known = endpoints.get(event.tenant_id)
        if event.type != TEST_EVENT and known is None:
            return None
        try:
            targets = self._targets(event, known)
            if not targets:
                return [], 0
            done = self._store.delivered_to(event.tenant_id, event.id, [e.id for e in targets])
        except Exception:
            LOG.exception("reading the deliveries of event %s of tenant %s failed", event.id, event.tenant_id)
            return None
        jobs = [_Job(record_id, event, e) for e in targets if e.id not in done]
        return jobs, len(targets) - len(jobs)

    def _deliver_queue(self, queue: list[_Job], started: float) -> tuple[dict[str, int], set[str]]:
        counts = {"attempts": 0, "delivered": 0, "failed": 0, "skipped": 0, "disabled": 0, "deferred": 0}
        broken: set[str] = set()
        failed_here = False
        for job in queue:
            try:
                if failed_here or self._monotonic() - started > self._batch_budget_s:
                    counts["deferred" if self._defer(job, backoff=failed_here) else "skipped"] += 1
                    continue
                outcome = self._first_attempt(job)
            except Exception:
                LOG.exception("delivering event %s of tenant %s failed", job.event.id, job.event.tenant_id)
                broken.add(job.record_id)
                continue
            if outcome is None:
                counts["skipped"] += 1  # written meanwhile by another run of the same record
                continue
            attempt, disabled = outcome
            counts["attempts"] += 1
            counts["disabled"] += disabled
            if attempt.outcome is AttemptOutcome.DELIVERED:
                counts["delivered"] += 1
            else:
                counts["failed"] += 1
                failed_here = True
        return counts, broken

    def _first_attempt(self, job: _Job) -> tuple[DeliveryAttempt, int] | None:
        event, endpoint = job.event, job.endpoint
        body = payload(event)
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
            return None
        return attempt, self._follow_health(endpoint, attempt, now)

    def _defer(self, job: _Job, *, backoff: bool) -> bool:
        """Write the delivery pending without trying it: due after a first backoff (its endpoint failed in
        this batch), or now (the batch's budget is spent). False if it exists already."""
        now = self._clock.now()
        delivery = Delivery(
            tenant_id=job.event.tenant_id,
            endpoint_id=job.endpoint.id,
            event_id=job.event.id,
            event_type=job.event.type,
            body=payload(job.event),
            status=DeliveryStatus.PENDING,
            attempts=0,
            first_attempt_at=now,
            next_attempt_at=now + retry_delay_s(1, self._random) if backoff else now,
        )
        return self._store.add(delivery, None)

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
        """Every due delivery, one queue per endpoint as in ``deliver_events`` (after a failed attempt the
        endpoint's other due deliveries of this run are put off with backoff, untried); no attempt starts
        once less than ``margin_ms`` of the invocation is left."""
        report = NotifyReport()

        def time_left() -> bool:
            return remaining_ms is None or remaining_ms() > margin_ms

        while time_left():
            now = self._clock.now()
            due = self._store.due(now, 100)
            if not due:
                break
            queues = _interleaved(due, key=lambda d: (d.tenant_id, d.endpoint_id))
            with ThreadPoolExecutor(max(1, min(self._workers, len(queues)))) as pool:
                results = list(pool.map(lambda queue: self._retry_queue(queue, time_left), queues))
            progressed = False
            for outcomes in results:
                for outcome in outcomes:
                    if outcome is None:
                        report.errors += 1
                        continue
                    progressed = progressed or outcome != "skipped"
                    setattr(report, outcome, getattr(report, outcome) + 1)
                    if outcome in ("delivered", "failed"):
                        report.attempts += 1
            if not progressed or len(due) < 100:
                break
        return report

    def _retry_queue(self, queue: list[DueDelivery], time_left: Callable[[], bool]) -> list[str | None]:
        outcomes: list[str | None] = []
        failed_here = False
        for due in queue:
            if not time_left():
                outcomes.append("skipped")  # still due: the next run takes it
                continue
            outcome = self._postpone_safely(due) if failed_here else self._retry_safely(due)
            failed_here = failed_here or outcome == "failed"
            outcomes.append(outcome)
        return outcomes

    def _retry_safely(self, due: DueDelivery) -> str | None:
        try:
            return self.retry(due)
        except Exception:
            LOG.exception("retrying delivery of event %s to endpoint %s failed", due.event_id, due.endpoint_id)
            return None

    def _postpone_safely(self, due: DueDelivery) -> str | None:
        """Put a due delivery off by its next backoff, untried (its endpoint just failed): ``deferred``."""
        try:
            now = self._clock.now()
            delivery = self._store.delivery(due.tenant_id, due.endpoint_id, due.event_id)
            if delivery is None or delivery.status is not DeliveryStatus.PENDING:
                return "skipped"
            if delivery.next_attempt_at is None or delivery.next_attempt_at > now:
                return "skipped"
            later = now + retry_delay_s(max(1, delivery.attempts), self._random)
            after = replace(delivery, next_attempt_at=later, version=delivery.version + 1)
            return "deferred" if self._store.change(delivery, after, None) else "skipped"
        except Exception:
            LOG.exception("putting off delivery of event %s to endpoint %s failed", due.event_id, due.endpoint_id)
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


@dataclass(frozen=True)
class _Job:
    record_id: str
    event: Event
    endpoint: WebhookEndpoint


def _interleaved(items: Sequence[_Item], key: Callable[[_Item], tuple[str, str]]) -> list[list[_Item]]:
    """``items`` in one queue per (tenant, endpoint) key, in their order; the queues taken tenant by tenant
    in turn (each tenant's first queue, then each one's second, …)."""
    queues: dict[tuple[str, str], list[_Item]] = {}
    for item in items:
        queues.setdefault(key(item), []).append(item)
    by_tenant: dict[str, list[list[_Item]]] = {}
    for (tenant_id, _), queue in queues.items():
        by_tenant.setdefault(tenant_id, []).append(queue)
    ordered: list[list[_Item]] = []
    for rank in range(max((len(q) for q in by_tenant.values()), default=0)):
        ordered.extend(tenant_queues[rank] for tenant_queues in by_tenant.values() if rank < len(tenant_queues))
    return ordered


def _status_after(attempt: DeliveryAttempt) -> DeliveryStatus:
    if attempt.outcome is AttemptOutcome.DELIVERED:
        return DeliveryStatus.DELIVERED
    return DeliveryStatus.PENDING if attempt.next_attempt_at is not None else DeliveryStatus.FAILED


def disabled_event_id(endpoint_id: str, failing_since: int) -> str:
    """One ``webhook_endpoint.disabled`` event per failing spell of an endpoint, however often it is tried."""
    return event_id("webhook_endpoint.disabled", endpoint_id, str(failing_since))
