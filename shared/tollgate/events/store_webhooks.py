"""The portal's side of webhooks: endpoints (the tenant's count kept with them), their secrets and the list of
attempts. The items and their layout: ``tollgate.events.store_webhook_items``."""

from __future__ import annotations

import random
import time
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from tollgate.core.errors import Conflict, NotFound, StoreBusy
from tollgate.events.rules import Event
from tollgate.events.service_webhooks import (
    AttemptPage,
    WebhookEndpoint,
)
from tollgate.events.store_webhook_items import (
    COUNT,
    ENDPOINT,
    WebhookAttemptItem,
    WebhookEndpointCountItem,
    WebhookEndpointItem,
    endpoint_item,
    failed_condition,
    to_attempt,
    to_endpoint,
)
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.cursors import CURSORS, text_at
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.pool import PoolTransaction, Refused

DELIVERIES_CURSOR = "webhook_deliveries"
COUNT_ATTEMPTS = 20  # reads of the count before a create or delete gives up (503) under contention


def _pause() -> None:
    time.sleep(random.uniform(0, 0.02))  # noqa: S311 - jitter between racing writers, not a secret


def _count_item(tenant_id: str) -> WebhookEndpointCountItem:
    return WebhookEndpointCountItem(keys.tenant_pk(tenant_id), keys.WEBHOOK_ENDPOINT_COUNT_SK)


def _counted(stored: int | None) -> Any:
    """The condition that the count is still what was read (absent: still absent)."""
    if stored is None:
        return WebhookEndpointCountItem.endpoints.does_not_exist()
    return WebhookEndpointCountItem.endpoints == stored


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
            tx.put(ENDPOINT, endpoint_item(endpoint), WebhookEndpointItem.pk.does_not_exist())
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
        return to_endpoint(tenant_id, item)

    def list(self, tenant_id: str) -> list[WebhookEndpoint]:
        with busy_as_store_busy():
            items = WebhookEndpointItem.query(
                keys.tenant_pk(tenant_id),
                WebhookEndpointItem.sk.startswith(keys.WEBHOOK_ENDPOINT_SK_PREFIX),
                consistent_read=True,
            )
            return [to_endpoint(tenant_id, item) for item in items]

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
            if failed_condition(exc):
                if self.find(before.tenant_id, before.id) is None:
                    raise NotFound("no such webhook endpoint") from exc
                return False
            raise
        return True

    def enable(self, before: WebhookEndpoint, after: WebhookEndpoint) -> bool:
        item = WebhookEndpointItem(keys.tenant_pk(before.tenant_id), keys.webhook_endpoint_sk(before.id))
        actions: list[Action] = [
            WebhookEndpointItem.status.set(after.status.value),
            WebhookEndpointItem.disabled_at.remove(),
            WebhookEndpointItem.failing_since.remove(),
            WebhookEndpointItem.version.set(after.version),
        ]
        try:
            with busy_as_store_busy():
                item.update(actions=actions, condition=WebhookEndpointItem.version == before.version)
        except UpdateError as exc:
            if failed_condition(exc):
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
            attempts = [to_attempt(tenant_id, item) for item in result]
            last = result.last_evaluated_key
        next_cursor = None
        if last:
            next_cursor = CURSORS.seal(DELIVERIES_CURSOR, tenant_id, {"e": endpoint_id, "sk": last["sk"]["S"]})
        return AttemptPage(attempts, next_cursor)
