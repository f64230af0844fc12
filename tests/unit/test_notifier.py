"""The notifier's rules with in-memory fakes: who gets an event, at least once without resending on a
stream redelivery, retries on schedule, abandoned for a deleted endpoint, disabled after 5 days of failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from standardwebhooks.webhooks import Webhook

from tollgate.core.clock import FixedClock
from tollgate.events.rules import Event, SendResult
from tollgate.events.service_notifier import DeliveryStore, DueDelivery, NotifierService
from tollgate.events.service_webhooks import (
    DISABLE_AFTER_S,
    DISABLED_EVENT,
    RETRY_WINDOW_S,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    WebhookEndpoint,
)
from tollgate.events.signing import new_secret, signed_headers

T0 = 1_800_000_000


class Sealer:
    def seal(self, secret: str, tenant_id: str, endpoint_id: str) -> str:
        return f"sealed:{tenant_id}:{endpoint_id}:{secret}"

    def open(self, sealed: str, tenant_id: str, endpoint_id: str) -> str:
        prefix = f"sealed:{tenant_id}:{endpoint_id}:"
        assert sealed.startswith(prefix)
        return sealed[len(prefix) :]


class Sender:
    def __init__(self) -> None:
        self.status: dict[str, int | None] = {}
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        self.sent.append((url, body, dict(headers)))
        status = self.status.get(url, 204)
        return SendResult(status, None if status else "connection refused", 3)


class Store(DeliveryStore):
    def __init__(self) -> None:
        self.endpoints_by_id: dict[str, WebhookEndpoint] = {}
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self.attempts: list[DeliveryAttempt] = []
        self.events: list[Event] = []
        self.fail_writes = False

    def endpoints(self, tenant_id: str) -> list[WebhookEndpoint]:
        return [e for e in self.endpoints_by_id.values() if e.tenant_id == tenant_id]

    def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        found = self.endpoints_by_id.get(endpoint_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    def delivered_to(self, tenant_id: str, event_id: str, endpoint_ids: Sequence[str]) -> set[str]:
        return {e for e in endpoint_ids if (e, event_id) in self.deliveries}

    def add(self, delivery: Delivery, attempt: DeliveryAttempt | None) -> bool:
        if self.fail_writes:
            raise RuntimeError("the store is down")
        key = (delivery.endpoint_id, delivery.event_id)
        if key in self.deliveries:
            return False
        self.deliveries[key] = delivery
        if attempt is not None:
            self.attempts.append(attempt)
        return True

    def due(self, now: int, limit: int) -> list[DueDelivery]:
        return [
            DueDelivery(d.tenant_id, d.endpoint_id, d.event_id)
            for d in self.deliveries.values()
            if d.status is DeliveryStatus.PENDING and d.next_attempt_at is not None and d.next_attempt_at <= now
        ][:limit]

    def delivery(self, tenant_id: str, endpoint_id: str, event_id: str) -> Delivery | None:
        return self.deliveries.get((endpoint_id, event_id))

    def change(self, before: Delivery, after: Delivery, attempt: DeliveryAttempt | None) -> bool:
        key = (before.endpoint_id, before.event_id)
        if self.deliveries[key].version != before.version:
            return False
        self.deliveries[key] = after
        if attempt is not None:
            self.attempts.append(attempt)
        return True

    def mark_failing(self, endpoint: WebhookEndpoint, since: int) -> None:
        current = self.endpoints_by_id[endpoint.id]
        if current.failing_since is None:
            self.endpoints_by_id[endpoint.id] = replace(current, failing_since=since)

    def mark_healthy(self, endpoint: WebhookEndpoint) -> None:
        self.endpoints_by_id[endpoint.id] = replace(self.endpoints_by_id[endpoint.id], failing_since=None)

    def disable(self, endpoint: WebhookEndpoint, now: int, event: Event) -> bool:
        current = self.endpoints_by_id[endpoint.id]
        if current.status is EndpointStatus.DISABLED or any(e.id == event.id for e in self.events):
            return False
        self.endpoints_by_id[endpoint.id] = replace(current, status=EndpointStatus.DISABLED, disabled_at=now)
        self.events.append(event)
        return True


def endpoint(store: Store, endpoint_id: str, events: tuple[str, ...], secret: str, tenant: str = "tn_a") -> None:
    store.endpoints_by_id[endpoint_id] = WebhookEndpoint(
        id=endpoint_id,
        tenant_id=tenant,
        url=f"https://{endpoint_id}.example.com/hook",
        events=events,
        description=None,
        status=EndpointStatus.ENABLED,
        created_at=T0,
        secret_sealed=Sealer().seal(secret, tenant, endpoint_id),
    )


def service(store: Store, sender: Sender, clock: FixedClock) -> NotifierService:
    return NotifierService(store, sender, signed_headers, Sealer(), clock, random=lambda: 0.0, workers=4)


def paid(event_id: str = "ev_1", tenant: str = "tn_a", kind: str = "purchase.paid") -> Event:
    return Event(event_id, tenant, kind, T0, {"purchase_id": "pu_1", "tokens": 1000})


def test_an_event_goes_to_each_subscribed_enabled_endpoint_of_its_tenant_once_signed() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    secret = new_secret()
    endpoint(store, "we_paid", ("purchase.paid",), secret)
    endpoint(store, "we_all", ("*",), new_secret())
    endpoint(store, "we_lots", ("lot.expired",), new_secret())
    endpoint(store, "we_other", ("*",), new_secret(), tenant="tn_b")
    report = service(store, sender, clock).deliver_events([("seq1", paid())])
    assert report.failed_records == [] and report.delivered == 2
    assert sorted(url for url, _, _ in sender.sent) == [
        "https://we_all.example.com/hook",
        "https://we_paid.example.com/hook",
    ]
    _, body, headers = next(s for s in sender.sent if "we_paid" in s[0])
    # the library's verify checks the timestamp against the real time; sign again at the recorded one instead
    assert Webhook(secret).sign(headers["webhook-id"], _at(headers), body.decode()) == headers["webhook-signature"]
    assert {d.status for d in store.deliveries.values()} == {DeliveryStatus.DELIVERED}


def _at(headers: dict[str, str]):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)


def test_a_stream_redelivery_sends_nothing_again() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    endpoint(store, "we_1", ("*",), new_secret())
    notifier = service(store, sender, clock)
    notifier.deliver_events([("seq1", paid())])
    report = notifier.deliver_events([("seq1", paid())])
    assert len(sender.sent) == 1 and report.skipped == 1 and report.failed_records == []


def test_when_the_delivery_cannot_be_written_the_record_is_reported_failed() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    endpoint(store, "we_1", ("*",), new_secret())
    store.fail_writes = True
    report = service(store, sender, clock).deliver_events([("seq1", paid("ev_1")), ("seq2", paid("ev_2"))])
    assert sorted(report.failed_records) == ["seq1", "seq2"]
    store.fail_writes = False
    again = service(store, sender, clock).deliver_events([("seq1", paid("ev_1"))])
    assert again.failed_records == [] and again.delivered == 1
    ids = {headers["webhook-id"] for _, body, headers in sender.sent if b'"ev_1"' in body}
    assert len(ids) == 1  # the resend carries the same webhook-id: the receiver dedupes it


def test_a_failing_endpoint_is_retried_on_schedule_until_it_answers() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    endpoint(store, "we_1", ("*",), new_secret())
    url = "https://we_1.example.com/hook"
    sender.status[url] = 500
    notifier = service(store, sender, clock)
    notifier.deliver_events([("seq1", paid())])
    [delivery] = store.deliveries.values()
    assert delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at == T0 + 30
    assert store.endpoints_by_id["we_1"].failing_since == T0

    assert notifier.retry_due().attempts == 0  # nothing due yet
    clock.advance(30)
    assert notifier.retry_due().failed == 1
    assert store.deliveries[("we_1", "ev_1")].next_attempt_at == T0 + 30 + 60
    sender.status[url] = 200
    clock.advance(60)
    assert notifier.retry_due().delivered == 1
    delivery = store.deliveries[("we_1", "ev_1")]
    assert delivery.status is DeliveryStatus.DELIVERED and delivery.attempts == 3
    assert [a.outcome for a in store.attempts] == [
        AttemptOutcome.FAILED,
        AttemptOutcome.FAILED,
        AttemptOutcome.DELIVERED,
    ]
    assert {a.webhook_id for a in store.attempts} == {"msg_ev_1_we_1"}
    assert store.endpoints_by_id["we_1"].failing_since is None


def test_after_the_retry_window_a_delivery_fails_for_good() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    endpoint(store, "we_1", ("*",), new_secret())
    sender.status["https://we_1.example.com/hook"] = None
    notifier = service(store, sender, clock)
    notifier.deliver_events([("seq1", paid())])
    while store.deliveries[("we_1", "ev_1")].status is DeliveryStatus.PENDING:
        clock.advance(store.deliveries[("we_1", "ev_1")].next_attempt_at - clock.now())  # type: ignore[operator]
        notifier.retry_due()
    delivery = store.deliveries[("we_1", "ev_1")]
    assert delivery.status is DeliveryStatus.FAILED
    assert store.attempts[-1].at - store.attempts[0].at >= RETRY_WINDOW_S


def test_an_endpoint_failing_for_five_days_is_disabled_once_with_an_event() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    endpoint(store, "we_1", ("*",), new_secret())
    sender.status["https://we_1.example.com/hook"] = 503
    notifier = service(store, sender, clock)
    for day in range(7):
        notifier.deliver_events([(f"seq{day}", paid(f"ev_{day}"))])
        clock.advance(86_400)
        notifier.retry_due()
    current = store.endpoints_by_id["we_1"]
    assert current.status is EndpointStatus.DISABLED
    assert current.disabled_at is not None and current.disabled_at - T0 >= DISABLE_AFTER_S
    assert [e.type for e in store.events] == [DISABLED_EVENT]
    assert store.events[0].data["endpoint_id"] == "we_1"
    sent = len(sender.sent)
    clock.advance(86_400)
    notifier.deliver_events([("seq9", paid("ev_9"))])
    notifier.retry_due()
    assert len(sender.sent) == sent  # nothing goes to a disabled endpoint
    assert all(d.status is not DeliveryStatus.PENDING for d in store.deliveries.values())


def test_a_test_event_goes_to_its_one_endpoint_only() -> None:
    store, sender, clock = Store(), Sender(), FixedClock(T0)
    endpoint(store, "we_1", ("*",), new_secret())
    endpoint(store, "we_2", ("*",), new_secret())
    test = Event("ev_t", "tn_a", "webhook.test", T0, {"endpoint_id": "we_2"})
    service(store, sender, clock).deliver_events([("seq1", test)])
    assert [url for url, _, _ in sender.sent] == ["https://we_2.example.com/hook"]


class SlowSender(Sender):
    """Every attempt to ``slow`` ends at the per-attempt bound, as a receiver that drips its answer does."""

    def __init__(self, slow: str) -> None:
        super().__init__()
        self.slow = slow

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        if url == self.slow:
            self.sent.append((url, body, dict(headers)))
            return SendResult(200, "timeout: no complete answer within 5 s", 5000)
        return super().send(url, body, headers)


def test_a_slow_endpoint_costs_one_attempt_per_batch_and_the_rest_wait_for_the_schedule() -> None:
    """A tenant whose receiver drips costs the shared batch one bounded attempt, not one per event: once an
    endpoint has failed in a batch, its other deliveries of the batch are scheduled for later without being
    tried, and the other tenants' deliveries go on."""
    store, clock = Store(), FixedClock(T0)
    endpoint(store, "we_slow", ("*",), new_secret(), tenant="tn_slow")
    endpoint(store, "we_fine", ("*",), new_secret(), tenant="tn_fine")
    sender = SlowSender("https://we_slow.example.com/hook")
    batch = [(f"s{i}", paid(f"ev_s{i}", tenant="tn_slow")) for i in range(12)]
    batch += [(f"f{i}", paid(f"ev_f{i}", tenant="tn_fine")) for i in range(12)]
    report = service(store, sender, clock).deliver_events(batch)
    slow_attempts = [url for url, _, _ in sender.sent if "we_slow" in url]
    assert len(slow_attempts) == 1  # one bounded attempt, not twelve
    assert report.failed_records == [] and report.delivered == 12 and report.failed == 1
    slow = [d for d in store.deliveries.values() if d.endpoint_id == "we_slow"]
    assert len(slow) == 12 and all(d.status is DeliveryStatus.PENDING for d in slow)
    assert all(d.next_attempt_at is not None and d.next_attempt_at > T0 for d in slow)  # later, with backoff
    [failed] = [a for a in store.attempts if a.endpoint_id == "we_slow"]
    assert failed.outcome is AttemptOutcome.FAILED and failed.error is not None and failed.error.startswith("timeout")


def test_a_slow_endpoint_costs_one_attempt_per_scheduled_run() -> None:
    store, clock = Store(), FixedClock(T0)
    endpoint(store, "we_slow", ("*",), new_secret(), tenant="tn_slow")
    sender = SlowSender("https://we_slow.example.com/hook")
    notifier = service(store, sender, clock)
    notifier.deliver_events([(f"s{i}", paid(f"ev_s{i}", tenant="tn_slow")) for i in range(8)])
    clock.advance(3600)
    before = len(sender.sent)
    report = notifier.retry_due()
    assert len(sender.sent) - before == 1 and report.failed == 1
    later = [d.next_attempt_at for d in store.deliveries.values() if d.status is DeliveryStatus.PENDING]
    assert len(later) == 8 and all(at is not None and at > clock.now() for at in later)


def test_attempts_stop_starting_once_the_batch_budget_is_spent() -> None:
    """However many tenants are slow, no attempt starts after the batch's budget: what is left is written as
    due now and the schedule takes it."""
    store, clock = Store(), FixedClock(T0)
    for n in range(6):
        endpoint(store, f"we_{n}", ("*",), new_secret(), tenant=f"tn_{n}")
    sender = Sender()
    ticks = iter(range(0, 1000, 10))  # each look at the budget clock is 10 s later
    notifier = NotifierService(
        store,
        sender,
        signed_headers,
        Sealer(),
        clock,
        random=lambda: 0.0,
        workers=1,
        batch_budget_s=25,
        monotonic=lambda: float(next(ticks)),
    )
    report = notifier.deliver_events([(f"r{n}", paid(f"ev_{n}", tenant=f"tn_{n}")) for n in range(6)])
    assert report.failed_records == [] and 0 < report.attempts < 6
    waiting = [d for d in store.deliveries.values() if d.attempts == 0]
    assert len(waiting) == 6 - report.attempts
    assert all(d.status is DeliveryStatus.PENDING and d.next_attempt_at == T0 for d in waiting)
    clock.advance(1)
    assert notifier.retry_due().delivered == len(waiting)
