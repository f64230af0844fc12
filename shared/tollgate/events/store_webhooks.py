"""Webhook endpoints, deliveries and their attempts in the table (keys in ``tollgate.kernel.keys``).

- An endpoint (sk ``WHEP#…``) holds its secret sealed (``tollgate.events.sealing``), never in clear.
- A delivery (sk ``WHDL#<endpoint>#<event>``) is one event to one endpoint: the payload, its status and its
  next attempt, on the ``by_due`` index (shard ``WEBHOOK``) only while it is pending. Every change to it is
  conditioned on its ``version``, so two notifier runs never attempt it both.
- Attempts (pk ``T#<tenant>#W``) are written in the transaction of the delivery's change, with their own
  deterministic key (a retried write cannot add one twice). Response bodies are never stored.
- The tenant's number of endpoints is an item of its own (sk ``WHEPS``), changed in the transaction that
  adds or deletes one and conditioned on the number read: the limit holds under concurrent creates.
- Deliveries and attempts are purged by TTL 35 and 30 days after they start (clean-up only).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from tollgate.core.errors import Conflict, NotFound, StoreBusy
from tollgate.events.rules import Event
from tollgate.events.service_notifier import DueDelivery
from tollgate.events.service_webhooks import (
    AttemptOutcome,
    AttemptPage,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    WebhookEndpoint,
)
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.cursors import CURSORS, text_at
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.kernel.table import TableModel

DELIVERIES_CURSOR = "webhook_deliveries"
ATTEMPT_TTL_S = 30 * 86_400
DELIVERY_TTL_S = 35 * 86_400
DELIVERY, ATTEMPT, ENDPOINT, COUNT = "delivery", "attempt", "endpoint", "endpoint_count"
COUNT_ATTEMPTS = 20  # reads of the count before a create or delete gives up (503) under contention


class WebhookEndpointItem(TableModel):
    endpoint_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    description = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    secret_sealed = UnicodeAttribute()
    previous_secret_sealed = UnicodeAttribute(null=True)
    previous_until = NumberAttribute(null=True)
    rotated_at = NumberAttribute(null=True)
    failing_since = NumberAttribute(null=True)
    disabled_at = NumberAttribute(null=True)
    version = NumberAttribute(default=0)


class WebhookEndpointCountItem(TableModel):
    """How many endpoints a tenant has. Absent for a tenant whose endpoints predate it: then the endpoints
    are counted, and the first create writes it."""

    endpoints = NumberAttribute()


class _WebhookDueIndex(GlobalSecondaryIndex["WebhookDeliveryItem"]):
    class Meta:
        index_name = "by_due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class WebhookDeliveryItem(TableModel):
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()
    status = UnicodeAttribute()
    attempts = NumberAttribute()
    first_attempt_at = NumberAttribute()
    next_attempt_at = NumberAttribute(null=True)
    version = NumberAttribute()
    due_shard = UnicodeAttribute(null=True)  # present only while the delivery is pending
    due_at = NumberAttribute(null=True)
    by_due = _WebhookDueIndex()


class WebhookAttemptItem(TableModel):
    endpoint_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    webhook_id = UnicodeAttribute()
    number = NumberAttribute()
    at = NumberAttribute()
    status_code = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    duration_ms = NumberAttribute()
    outcome = UnicodeAttribute()
    next_attempt_at = NumberAttribute(null=True)


# --------------------------------------------------------------------------------------- mapping


def _endpoint(tenant_id: str, item: WebhookEndpointItem) -> WebhookEndpoint:
    def optional(value: Any) -> int | None:
        return None if value is None else int(value)

    return WebhookEndpoint(
        id=item.endpoint_id,
        tenant_id=tenant_id,
        url=item.url,
        events=tuple(str(e) for e in (item.events or ())),
        description=item.description,
        status=EndpointStatus(item.status),
        created_at=int(item.created_at),
        secret_sealed=item.secret_sealed,
        previous_secret_sealed=item.previous_secret_sealed,
        previous_until=optional(item.previous_until),
        rotated_at=optional(item.rotated_at),
        failing_since=optional(item.failing_since),
        disabled_at=optional(item.disabled_at),
        version=int(item.version or 0),
    )


def _endpoint_item(endpoint: WebhookEndpoint) -> WebhookEndpointItem:
    return WebhookEndpointItem(
        keys.tenant_pk(endpoint.tenant_id),
        keys.webhook_endpoint_sk(endpoint.id),
        endpoint_id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        status=endpoint.status.value,
        created_at=endpoint.created_at,
        secret_sealed=endpoint.secret_sealed,
        previous_secret_sealed=endpoint.previous_secret_sealed,
        previous_until=endpoint.previous_until,
        rotated_at=endpoint.rotated_at,
        failing_since=endpoint.failing_since,
        disabled_at=endpoint.disabled_at,
        version=endpoint.version,
    )


def _delivery(tenant_id: str, item: WebhookDeliveryItem) -> Delivery:
    return Delivery(
        tenant_id=tenant_id,
        endpoint_id=item.endpoint_id,
        event_id=item.event_id,
        event_type=item.event_type,
        body=item.body,
        status=DeliveryStatus(item.status),
        attempts=int(item.attempts),
        first_attempt_at=int(item.first_attempt_at),
        next_attempt_at=None if item.next_attempt_at is None else int(item.next_attempt_at),
        version=int(item.version),
    )


def _delivery_item(delivery: Delivery) -> WebhookDeliveryItem:
    pending = delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at is not None
    return WebhookDeliveryItem(
        keys.tenant_pk(delivery.tenant_id),
        keys.webhook_delivery_sk(delivery.endpoint_id, delivery.event_id),
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        body=delivery.body,
        status=delivery.status.value,
        attempts=delivery.attempts,
        first_attempt_at=delivery.first_attempt_at,
        next_attempt_at=delivery.next_attempt_at,
        version=delivery.version,
        due_shard=keys.WEBHOOK_DUE_SHARD if pending else None,
        due_at=delivery.next_attempt_at if pending else None,
        purge_at=delivery.first_attempt_at + DELIVERY_TTL_S,
    )


def _attempt(tenant_id: str, item: WebhookAttemptItem) -> DeliveryAttempt:
    return DeliveryAttempt(
        tenant_id=tenant_id,
        endpoint_id=item.endpoint_id,
        event_id=item.event_id,
        event_type=item.event_type,
        webhook_id=item.webhook_id,
        number=int(item.number),
        at=int(item.at),
        status_code=None if item.status_code is None else int(item.status_code),
        error=item.error,
        duration_ms=int(item.duration_ms),
        outcome=AttemptOutcome(item.outcome),
        next_attempt_at=None if item.next_attempt_at is None else int(item.next_attempt_at),
    )


def _attempt_item(attempt: DeliveryAttempt) -> WebhookAttemptItem:
    return WebhookAttemptItem(
        keys.webhook_attempts_pk(attempt.tenant_id),
        keys.webhook_attempt_sk(attempt.endpoint_id, attempt.at, attempt.id),
        endpoint_id=attempt.endpoint_id,
        event_id=attempt.event_id,
        event_type=attempt.event_type,
        webhook_id=attempt.webhook_id,
        number=attempt.number,
        at=attempt.at,
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=attempt.duration_ms,
        outcome=attempt.outcome.value,
        next_attempt_at=attempt.next_attempt_at,
        purge_at=attempt.at + ATTEMPT_TTL_S,
    )


def _pause() -> None:
    time.sleep(random.uniform(0, 0.02))  # noqa: S311 - jitter between racing writers, not a secret


def _count_item(tenant_id: str) -> WebhookEndpointCountItem:
    return WebhookEndpointCountItem(keys.tenant_pk(tenant_id), keys.WEBHOOK_ENDPOINT_COUNT_SK)


def _counted(stored: int | None) -> Any:
    """The condition that the count is still what was read (absent: still absent)."""
    if stored is None:
        return WebhookEndpointCountItem.endpoints.does_not_exist()
    return WebhookEndpointCountItem.endpoints == stored


def _failed_condition(exc: PutError | UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


# ------------------------------------------------------------------------------------ endpoints


class DynamoWebhookEndpoints:
    """The portal's side: endpoints, their secrets and the list of attempts."""

    def add(self, endpoint: WebhookEndpoint, limit: int) -> None:
        """The endpoint and the tenant's count + 1, in one transaction conditioned on the count read (a
        concurrent create or delete makes it read again); ``Conflict`` at ``limit``."""
        tenant_id = endpoint.tenant_id
        for _ in range(COUNT_ATTEMPTS):
            stored = self._count(tenant_id)
            count = len(self.list(tenant_id)) if stored is None else stored
            if count >= limit:
                raise Conflict(f"a tenant has at most {limit} webhook endpoints; delete one first")
            tx = PoolTransaction(tenant_id, kernel.token("webhook-endpoint", endpoint.id, str(count)))
            tx.put(ENDPOINT, _endpoint_item(endpoint), WebhookEndpointItem.pk.does_not_exist())
            tx.update(
                COUNT, _count_item(tenant_id), [WebhookEndpointCountItem.endpoints.set(count + 1)], _counted(stored)
            )
            try:
                tx.commit()
            except Refused as refused:
                if COUNT in refused:
                    _pause()  # another create or delete came first: count again
                    continue
                raise
            return
        raise StoreBusy()

    def _count(self, tenant_id: str) -> int | None:
        try:
            with busy_as_store_busy():
                item = WebhookEndpointCountItem.get(
                    keys.tenant_pk(tenant_id), keys.WEBHOOK_ENDPOINT_COUNT_SK, consistent_read=True
                )
        except DoesNotExist:
            return None
        return int(item.endpoints)

    def get(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
        found = self.find(tenant_id, endpoint_id)
        if found is None:
            raise NotFound("no such webhook endpoint")
        return found

    def find(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        try:
            with busy_as_store_busy():
                item = WebhookEndpointItem.get(
                    keys.tenant_pk(tenant_id), keys.webhook_endpoint_sk(endpoint_id), consistent_read=True
                )
        except DoesNotExist:
            return None
        return _endpoint(tenant_id, item)

    def list(self, tenant_id: str) -> list[WebhookEndpoint]:
        with busy_as_store_busy():
            items = WebhookEndpointItem.query(
                keys.tenant_pk(tenant_id),
                WebhookEndpointItem.sk.startswith(keys.WEBHOOK_ENDPOINT_SK_PREFIX),
                consistent_read=True,
            )
            return [_endpoint(tenant_id, item) for item in items]

    def delete(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
        """The endpoint and the tenant's count - 1, in one transaction (as ``add``)."""
        endpoint = self.get(tenant_id, endpoint_id)
        item = WebhookEndpointItem(keys.tenant_pk(tenant_id), keys.webhook_endpoint_sk(endpoint_id))
        for _ in range(COUNT_ATTEMPTS):
            stored = self._count(tenant_id)
            tx = PoolTransaction(tenant_id, kernel.token("webhook-endpoint-delete", endpoint_id, str(stored)))
            if stored is None:  # endpoints from before the count: nothing to take one from, but none may start it
                tx.check(
                    COUNT,
                    WebhookEndpointCountItem,
                    keys.tenant_pk(tenant_id),
                    keys.WEBHOOK_ENDPOINT_COUNT_SK,
                    WebhookEndpointCountItem.endpoints.does_not_exist(),
                )
            else:
                count = max(0, stored - 1)
                tx.update(
                    COUNT, _count_item(tenant_id), [WebhookEndpointCountItem.endpoints.set(count)], _counted(stored)
                )
            tx.delete(ENDPOINT, item, WebhookEndpointItem.pk.exists())
            try:
                tx.commit()
            except Refused as refused:
                if ENDPOINT in refused:
                    raise NotFound("no such webhook endpoint") from refused
                if COUNT in refused:
                    _pause()
                    continue
                raise
            return endpoint
        raise StoreBusy()

    def rotate(self, before: WebhookEndpoint, after: WebhookEndpoint) -> bool:
        item = WebhookEndpointItem(keys.tenant_pk(before.tenant_id), keys.webhook_endpoint_sk(before.id))
        actions: list[Action] = [
            WebhookEndpointItem.secret_sealed.set(after.secret_sealed),
            WebhookEndpointItem.rotated_at.set(after.rotated_at or 0),
            WebhookEndpointItem.version.set(after.version),
        ]
        if after.previous_secret_sealed is None:
            actions += [
                WebhookEndpointItem.previous_secret_sealed.remove(),
                WebhookEndpointItem.previous_until.remove(),
            ]
        else:
            actions += [
                WebhookEndpointItem.previous_secret_sealed.set(after.previous_secret_sealed),
                WebhookEndpointItem.previous_until.set(after.previous_until or 0),
            ]
        try:
            with busy_as_store_busy():
                item.update(actions=actions, condition=WebhookEndpointItem.version == before.version)
        except UpdateError as exc:
            if _failed_condition(exc):
                if self.find(before.tenant_id, before.id) is None:
                    raise NotFound("no such webhook endpoint") from exc
                return False
            raise
        return True

    def send_test(self, endpoint: WebhookEndpoint, event: Event) -> None:  # noqa: ARG002 (the event names it)
        from tollgate.events.store import emit

        with busy_as_store_busy():
            emit(event)

    def attempts(self, tenant_id: str, endpoint_id: str, cursor: str | None, limit: int) -> AttemptPage:
        """Newest first. The partition comes from the tenant; the cursor only says where to go on."""
        start_key = None
        if cursor:
            position = CURSORS.open(DELIVERIES_CURSOR, tenant_id, cursor)
            sk = text_at(position, "sk")
            if text_at(position, "e") != endpoint_id or not sk.startswith(f"{endpoint_id}#"):
                from tollgate.core.errors import InvalidField

                raise InvalidField("cursor", "is not a cursor this API returned")
            start_key = {"pk": {"S": keys.webhook_attempts_pk(tenant_id)}, "sk": {"S": sk}}
        with busy_as_store_busy():
            result = WebhookAttemptItem.query(
                keys.webhook_attempts_pk(tenant_id),
                WebhookAttemptItem.sk.startswith(f"{endpoint_id}#"),
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=start_key,
                consistent_read=True,
            )
            attempts = [_attempt(tenant_id, item) for item in result]
            last = result.last_evaluated_key
        next_cursor = None
        if last:
            next_cursor = CURSORS.seal(DELIVERIES_CURSOR, tenant_id, {"e": endpoint_id, "sk": last["sk"]["S"]})
        return AttemptPage(attempts, next_cursor)


# ----------------------------------------------------------------------------------- deliveries


class DynamoDeliveryStore:
    """The notifier's side: deliveries, attempts and the endpoints' health."""

    def __init__(self) -> None:
        self._endpoints = DynamoWebhookEndpoints()

    def endpoints(self, tenant_id: str) -> list[WebhookEndpoint]:
        return self._endpoints.list(tenant_id)

    def endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        try:
            return self._endpoints.find(tenant_id, endpoint_id)
        except NotFound:  # not the shape of an endpoint id (a test event naming something else)
            return None

    def delivered_to(self, tenant_id: str, event_id: str, endpoint_ids: Sequence[str]) -> set[str]:
        if not endpoint_ids:
            return set()
        wanted = [(keys.tenant_pk(tenant_id), keys.webhook_delivery_sk(e, event_id)) for e in endpoint_ids]
        with busy_as_store_busy():
            found = WebhookDeliveryItem.batch_get(
                wanted, consistent_read=True, attributes_to_get=["pk", "sk", "endpoint_id"]
            )
            return {item.endpoint_id for item in found}

    def add(self, delivery: Delivery, attempt: DeliveryAttempt) -> bool:
        tx = PoolTransaction(delivery.tenant_id, kernel.token("webhook", delivery.endpoint_id, delivery.event_id))
        tx.put(DELIVERY, _delivery_item(delivery), WebhookDeliveryItem.pk.does_not_exist())
        tx.put(ATTEMPT, _attempt_item(attempt), WebhookAttemptItem.pk.does_not_exist())
        try:
            tx.commit()
        except Refused:
            return False
        return True

    def due(self, now: int, limit: int) -> list[DueDelivery]:
        with busy_as_store_busy():
            result = WebhookDeliveryItem.by_due.query(
                keys.WEBHOOK_DUE_SHARD, WebhookDeliveryItem.due_at <= now, limit=limit, page_size=limit
            )
            due: list[DueDelivery] = []
            for item in result:
                try:
                    endpoint_id, event_id = keys.webhook_delivery_of(item.sk)
                    due.append(DueDelivery(keys.tenant_of(item.pk), endpoint_id, event_id))
                except ValueError:
                    continue
            return due

    def delivery(self, tenant_id: str, endpoint_id: str, event_id: str) -> Delivery | None:
        try:
            with busy_as_store_busy():
                item = WebhookDeliveryItem.get(
                    keys.tenant_pk(tenant_id), keys.webhook_delivery_sk(endpoint_id, event_id), consistent_read=True
                )
        except DoesNotExist:
            return None
        return _delivery(tenant_id, item)

    def change(self, before: Delivery, after: Delivery, attempt: DeliveryAttempt | None) -> bool:
        item = _delivery_item(after)
        condition = WebhookDeliveryItem.version == before.version
        if attempt is None:
            try:
                with busy_as_store_busy():
                    item.save(condition=condition)
            except PutError as exc:
                if _failed_condition(exc):
                    return False
                raise
            return True
        tx = PoolTransaction(
            after.tenant_id, kernel.token("webhook", after.endpoint_id, after.event_id, str(after.version))
        )
        tx.put(DELIVERY, item, condition)
        tx.put(ATTEMPT, _attempt_item(attempt), WebhookAttemptItem.pk.does_not_exist())
        try:
            tx.commit()
        except Refused:
            return False
        return True

    def mark_failing(self, endpoint: WebhookEndpoint, since: int) -> None:
        item = WebhookEndpointItem(keys.tenant_pk(endpoint.tenant_id), keys.webhook_endpoint_sk(endpoint.id))
        condition = WebhookEndpointItem.pk.exists() & WebhookEndpointItem.failing_since.does_not_exist()
        try:
            with busy_as_store_busy():
                item.update(actions=[WebhookEndpointItem.failing_since.set(since)], condition=condition)
        except UpdateError as exc:
            if not _failed_condition(exc):
                raise

    def mark_healthy(self, endpoint: WebhookEndpoint) -> None:
        item = WebhookEndpointItem(keys.tenant_pk(endpoint.tenant_id), keys.webhook_endpoint_sk(endpoint.id))
        try:
            with busy_as_store_busy():
                item.update(
                    actions=[WebhookEndpointItem.failing_since.remove()], condition=WebhookEndpointItem.pk.exists()
                )
        except UpdateError as exc:
            if not _failed_condition(exc):
                raise

    def disable(self, endpoint: WebhookEndpoint, now: int, event: Event) -> bool:
        """Disable the endpoint and write its ``webhook_endpoint.disabled`` event, in one transaction; False
        if it was disabled, deleted or healed meanwhile."""
        item = WebhookEndpointItem(keys.tenant_pk(endpoint.tenant_id), keys.webhook_endpoint_sk(endpoint.id))
        tx = PoolTransaction(endpoint.tenant_id, kernel.token("webhook-disable", endpoint.id, event.id))
        tx.update(
            ENDPOINT,
            item,
            [
                WebhookEndpointItem.status.set(EndpointStatus.DISABLED.value),
                WebhookEndpointItem.disabled_at.set(now),
            ],
            (WebhookEndpointItem.status == EndpointStatus.ENABLED.value)
            & (WebhookEndpointItem.failing_since == endpoint.failing_since),
        )
        tx.event(event)
        try:
            tx.commit()
        except Refused:
            return False
        return True
