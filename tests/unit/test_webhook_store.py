"""Webhook endpoints, deliveries and attempts through the real data layer (moto in-process, the table from
template.yaml): secrets sealed at rest, tenant isolation, version-conditioned changes, the due index and
cursor paging of attempts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from tests.unit.conftest import raw_items
from tollgate.core.clock import FixedClock
from tollgate.core.errors import Conflict, InvalidField, NotFound
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Principal, Tenant, TenantStatus
from tollgate.core.roles import Role
from tollgate.events.rules import SendResult
from tollgate.events.sealing import SecretBox
from tollgate.events.service_webhooks import (
    ROTATION_OVERLAP_S,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    WebhookEndpointService,
    signing_keys,
)
from tollgate.events.signing import new_secret

T0 = 1_800_000_000
TEST_SEALING_KEYS = "k1=test-sealing-key-0123456789abcdef0123"


def caller(tenant_id: str = "tn_aaaaaaaaaaaaaaaa", role: Role = Role.ADMIN) -> Principal:
    tenant = Tenant(
        id=tenant_id,
        name="Acme",
        email="ops@acme.example",
        home_region="eu-west-1",
        status=TenantStatus.ACTIVE,
        created_at=T0,
    )
    return Principal(tenant=tenant, key_id="ak_aaaaaaaaaaaaaaaa", role=role)


def endpoints_service(clock: FixedClock) -> WebhookEndpointService:
    from tollgate.events.store_webhooks import DynamoWebhookEndpoints

    box = SecretBox(lambda: TEST_SEALING_KEYS)
    return WebhookEndpointService(
        DynamoWebhookEndpoints(), box, clock, RANDOM_IDS, new_secret=new_secret, allow_loopback_http=lambda: False
    )


def test_an_endpoint_is_stored_with_its_secret_sealed_and_only_its_tenant_sees_it(table: str) -> None:
    clock = FixedClock(T0)
    service = endpoints_service(clock)
    issued = service.create(caller(), "https://hooks.example.com/t", ["purchase.paid"], "ops")
    assert issued.secret.startswith("whsec_")
    dumped = repr(raw_items(table))
    assert issued.secret not in dumped and issued.secret[6:] not in dumped
    box = SecretBox(lambda: TEST_SEALING_KEYS)
    stored = service.get(caller(), issued.endpoint.id)
    assert signing_keys(stored, box, T0) == [issued.secret]
    assert [e.id for e in service.list(caller())] == [issued.endpoint.id]
    other = caller("tn_bbbbbbbbbbbbbbbb")
    assert service.list(other) == []
    with pytest.raises(NotFound):
        service.get(other, issued.endpoint.id)
    with pytest.raises(NotFound):
        service.delete(other, issued.endpoint.id)
    with pytest.raises(NotFound):
        service.get(caller(), "we_../../x")
    assert service.delete(caller(), issued.endpoint.id).id == issued.endpoint.id
    with pytest.raises(NotFound):
        service.delete(caller(), issued.endpoint.id)


def test_the_endpoint_limit_is_kept_by_a_count_written_with_each_create_and_delete(table: str) -> None:
    from tollgate.events.service_webhooks import MAX_ENDPOINTS
    from tollgate.events.store_webhook_items import WebhookEndpointCountItem
    from tollgate.kernel import keys

    def stored_count(tenant_id: str) -> int:
        return int(WebhookEndpointCountItem.get(keys.tenant_pk(tenant_id), keys.WEBHOOK_ENDPOINT_COUNT_SK).endpoints)

    service = endpoints_service(FixedClock(T0))
    made = [service.create(caller(), f"https://hooks.example.com/{n}", ["purchase.paid"], None) for n in range(3)]
    assert stored_count(caller().tenant_id) == 3
    service.delete(caller(), made[0].endpoint.id)
    assert stored_count(caller().tenant_id) == 2
    with pytest.raises(NotFound):
        service.delete(caller(), made[0].endpoint.id)
    assert stored_count(caller().tenant_id) == 2  # a refused delete takes nothing off
    for n in range(MAX_ENDPOINTS - 2):
        service.create(caller(), f"https://hooks.example.com/more/{n}", ["purchase.paid"], None)
    with pytest.raises(Conflict):
        service.create(caller(), "https://hooks.example.com/one-too-many", ["purchase.paid"], None)
    assert len(service.list(caller())) == MAX_ENDPOINTS == stored_count(caller().tenant_id)


def test_endpoints_made_before_the_count_are_counted_when_it_starts(table: str) -> None:
    from tollgate.events.service_webhooks import MAX_ENDPOINTS
    from tollgate.events.store_webhook_items import WebhookEndpointCountItem
    from tollgate.kernel import keys

    service = endpoints_service(FixedClock(T0))
    tenant_id = caller().tenant_id
    for n in range(MAX_ENDPOINTS):
        service.create(caller(), f"https://hooks.example.com/{n}", ["purchase.paid"], None)
    WebhookEndpointCountItem(keys.tenant_pk(tenant_id), keys.WEBHOOK_ENDPOINT_COUNT_SK).delete()  # as before it
    with pytest.raises(Conflict):
        service.create(caller(), "https://hooks.example.com/over", ["purchase.paid"], None)
    service.delete(caller(), service.list(caller())[0].id)  # without a count: none is started, none taken
    service.create(caller(), "https://hooks.example.com/again", ["purchase.paid"], None)
    count = WebhookEndpointCountItem.get(keys.tenant_pk(tenant_id), keys.WEBHOOK_ENDPOINT_COUNT_SK).endpoints
    assert int(count) == MAX_ENDPOINTS == len(service.list(caller()))


def test_a_rotation_signs_with_both_secrets_for_24_hours_then_with_the_new_one(table: str) -> None:
    clock = FixedClock(T0)
    service = endpoints_service(clock)
    box = SecretBox(lambda: TEST_SEALING_KEYS)
    first = service.create(caller(), "https://hooks.example.com/t", ["*"], None)
    clock.advance(100)
    second = service.rotate_secret(caller(), first.endpoint.id)
    assert second.secret != first.secret
    stored = service.get(caller(), first.endpoint.id)
    assert signing_keys(stored, box, clock.now()) == [second.secret, first.secret]
    assert signing_keys(stored, box, T0 + 100 + ROTATION_OVERLAP_S) == [second.secret]
    third = service.rotate_secret(caller(), first.endpoint.id)
    assert signing_keys(service.get(caller(), first.endpoint.id), box, clock.now()) == [third.secret, second.secret]


def test_a_sealed_secret_opens_only_for_its_own_endpoint(table: str) -> None:
    box = SecretBox(lambda: TEST_SEALING_KEYS)
    sealed = box.seal("whsec_abc", "tn_a", "we_1")
    assert box.open(sealed, "tn_a", "we_1") == "whsec_abc"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        box.open(sealed, "tn_a", "we_2")
    with pytest.raises(Exception):  # noqa: B017
        SecretBox(lambda: "k1=another-sealing-key-0123456789abcdef").open(sealed, "tn_a", "we_1")


def attempt(tenant_id: str, endpoint_id: str, event_id: str, number: int, at: int) -> DeliveryAttempt:
    return DeliveryAttempt(
        tenant_id=tenant_id,
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type="purchase.paid",
        webhook_id=f"msg_{event_id}_{endpoint_id}",
        number=number,
        at=at,
        status_code=500,
        error="answered 500",
        duration_ms=12,
        outcome=AttemptOutcome.FAILED,
        next_attempt_at=at + 30,
    )


def test_deliveries_are_due_while_pending_and_change_only_as_read(table: str) -> None:
    from tollgate.events.store_deliveries import DynamoDeliveryStore

    store = DynamoDeliveryStore()
    tenant, endpoint_id = "tn_aaaaaaaaaaaaaaaa", "we_aaaaaaaaaaaaaaaa"
    delivery = Delivery(tenant, endpoint_id, "ev_1", "purchase.paid", "{}", DeliveryStatus.PENDING, 1, T0, T0 + 30)
    assert store.add(delivery, attempt(tenant, endpoint_id, "ev_1", 1, T0))
    assert not store.add(delivery, attempt(tenant, endpoint_id, "ev_1", 1, T0))  # written once
    assert store.delivered_to(tenant, "ev_1", [endpoint_id, "we_bbbbbbbbbbbbbbbb"]) == {endpoint_id}
    assert store.due(T0 + 29, 10) == []
    [due] = store.due(T0 + 30, 10)
    assert (due.tenant_id, due.endpoint_id, due.event_id) == (tenant, endpoint_id, "ev_1")
    read = store.delivery(tenant, endpoint_id, "ev_1")
    assert read == delivery
    done = replace(read, status=DeliveryStatus.DELIVERED, attempts=2, next_attempt_at=None, version=1)
    assert store.change(read, done, replace(attempt(tenant, endpoint_id, "ev_1", 2, T0 + 30), status_code=200))
    assert not store.change(read, done, None)  # the version moved on
    assert store.due(T0 + 10_000, 10) == []  # off the index once delivered


def test_attempts_are_listed_newest_first_with_a_cursor_bound_to_tenant_and_endpoint(table: str) -> None:
    from tollgate.events.store_deliveries import DynamoDeliveryStore
    from tollgate.events.store_webhooks import DynamoWebhookEndpoints

    store, endpoints = DynamoDeliveryStore(), DynamoWebhookEndpoints()
    tenant, endpoint_id = "tn_aaaaaaaaaaaaaaaa", "we_aaaaaaaaaaaaaaaa"
    for n in range(5):
        delivery = Delivery(tenant, endpoint_id, f"ev_{n}", "x.y", "{}", DeliveryStatus.PENDING, 1, T0 + n, T0 + 99)
        store.add(delivery, attempt(tenant, endpoint_id, f"ev_{n}", 1, T0 + n))
    store.add(
        Delivery(tenant, "we_bbbbbbbbbbbbbbbb", "ev_x", "x.y", "{}", DeliveryStatus.PENDING, 1, T0, T0 + 99),
        attempt(tenant, "we_bbbbbbbbbbbbbbbb", "ev_x", 1, T0),
    )
    first = endpoints.attempts(tenant, endpoint_id, None, 3)
    assert [a.event_id for a in first.attempts] == ["ev_4", "ev_3", "ev_2"] and first.cursor
    second = endpoints.attempts(tenant, endpoint_id, first.cursor, 3)
    assert [a.event_id for a in second.attempts] == ["ev_1", "ev_0"] and second.cursor is None
    with pytest.raises(InvalidField):
        endpoints.attempts("tn_bbbbbbbbbbbbbbbb", endpoint_id, first.cursor, 3)
    with pytest.raises(InvalidField):
        endpoints.attempts(tenant, "we_bbbbbbbbbbbbbbbb", first.cursor, 3)


class FailingSender:
    def __init__(self) -> None:
        self.status: int | None = 503
        self.sent = 0

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        self.sent += 1
        return SendResult(self.status, None if self.status else "connection refused", 5)


def test_the_notifier_on_the_real_store_retries_then_disables_with_an_outbox_event(table: str) -> None:
    """NotifierService over DynamoDeliveryStore (moto): a failing endpoint's delivery goes on ``by_due``, is
    claimed and retried, and five days of failure disable the endpoint with a ``webhook_endpoint.disabled``
    event written to the outbox in the same transaction, once."""
    from tollgate.events.rules import Event
    from tollgate.events.service_notifier import NotifierService
    from tollgate.events.signing import signed_headers
    from tollgate.events.store import list_events
    from tollgate.events.store_deliveries import DynamoDeliveryStore

    clock = FixedClock(T0)
    issued = endpoints_service(clock).create(caller(), "https://hooks.example.com/t", ["purchase.paid"], None)
    tenant = caller().tenant_id
    sender = FailingSender()
    notifier = NotifierService(
        DynamoDeliveryStore(),
        sender,
        signed_headers,
        SecretBox(lambda: TEST_SEALING_KEYS),
        clock,
        lambda: 0.0,
        workers=1,
    )

    def paid(n: int) -> tuple[str, Event]:
        return (str(n), Event(id=f"ev_{n}", tenant_id=tenant, type="purchase.paid", at=clock.now(), data={"n": n}))

    assert notifier.deliver_events([paid(1)]).failed == 1
    assert notifier.deliver_events([paid(1)]).skipped == 1  # a stream redelivery sends nothing again
    assert sender.sent == 1
    clock.advance(30)
    assert notifier.retry_due().failed == 1
    assert sender.sent == 2
    for day in range(2, 8):
        clock.advance(86_400)
        notifier.deliver_events([paid(day)])
        notifier.retry_due()
    endpoint = endpoints_service(clock).get(caller(), issued.endpoint.id)
    assert endpoint.status.value == "disabled" and endpoint.failing_since == T0
    events = list_events(tenant, since=0).events
    assert [e.type for e in events] == ["webhook_endpoint.disabled"]
    assert events[0].data["endpoint_id"] == issued.endpoint.id
    sent = sender.sent
    clock.advance(86_400)
    notifier.deliver_events([paid(99)])
    notifier.retry_due()
    assert sender.sent == sent  # nothing more to a disabled endpoint
    assert DynamoDeliveryStore().due(clock.now() + 10 * 86_400, 100) == []  # every pending delivery abandoned
