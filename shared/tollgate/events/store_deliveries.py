"""The notifier's side of webhooks: deliveries, their attempts and the endpoints' health. The items and their
layout: ``tollgate.events.store_webhook_items``."""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from tollgate.core.errors import NotFound
from tollgate.events.rules import Event
from tollgate.events.service_notifier import DueDelivery
from tollgate.events.service_webhooks import (
    Delivery,
    DeliveryAttempt,
    EndpointStatus,
    WebhookEndpoint,
)
from tollgate.events.store_webhook_items import (
    ATTEMPT,
    DELIVERY,
    ENDPOINT,
    WebhookAttemptItem,
    WebhookDeliveryItem,
    WebhookEndpointItem,
    attempt_item,
    delivery_item,
    failed_condition,
    to_delivery,
)
from tollgate.events.store_webhooks import DynamoWebhookEndpoints
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.pool import PoolTransaction, Refused


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

    def add(self, delivery: Delivery, attempt: DeliveryAttempt | None) -> bool:
        tx = PoolTransaction(delivery.tenant_id, kernel.token("webhook", delivery.endpoint_id, delivery.event_id))
        tx.put(DELIVERY, delivery_item(delivery), WebhookDeliveryItem.pk.does_not_exist())
        if attempt is not None:  # None: put off untried (its endpoint failed in this batch, or time ran out)
            tx.put(ATTEMPT, attempt_item(attempt), WebhookAttemptItem.pk.does_not_exist())
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
        return to_delivery(tenant_id, item)

    def change(self, before: Delivery, after: Delivery, attempt: DeliveryAttempt | None) -> bool:
        item = delivery_item(after)
        condition = WebhookDeliveryItem.version == before.version
        if attempt is None:
            try:
                with busy_as_store_busy():
                    item.save(condition=condition)
            except PutError as exc:
                if failed_condition(exc):
                    return False
                raise
            return True
        tx = PoolTransaction(
            after.tenant_id, kernel.token("webhook", after.endpoint_id, after.event_id, str(after.version))
        )
        tx.put(DELIVERY, item, condition)
        tx.put(ATTEMPT, attempt_item(attempt), WebhookAttemptItem.pk.does_not_exist())
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
            if not failed_condition(exc):
                raise

    def mark_healthy(self, endpoint: WebhookEndpoint) -> None:
        item = WebhookEndpointItem(keys.tenant_pk(endpoint.tenant_id), keys.webhook_endpoint_sk(endpoint.id))
        try:
            with busy_as_store_busy():
                item.update(
                    actions=[WebhookEndpointItem.failing_since.remove()], condition=WebhookEndpointItem.pk.exists()
                )
        except UpdateError as exc:
            if not failed_condition(exc):
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
