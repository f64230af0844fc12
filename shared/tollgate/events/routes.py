"""The tenant's events in the portal: the event list, alerts, and webhook endpoints with their secrets,
tests and deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Protocol

from aws_lambda_powertools.event_handler.openapi.params import Query

from tollgate.core.clock import SYSTEM_CLOCK
from tollgate.core.logs import get_logger
from tollgate.core.roles import Permission
from tollgate.edge.params import Cursor, PageLimit, page_size
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views import event_view, iso
from tollgate.edge.views_reports import alert_view
from tollgate.edge.views_webhooks import attempt_view, endpoint_view
from tollgate.events.models import EventsAnswer
from tollgate.events.models_alerts import AlertAnswer, AlertBody, AlertsAnswer
from tollgate.events.models_webhooks import (
    DeliveryAttemptsAnswer,
    NewWebhookEndpointAnswer,
    TestEventAnswer,
    WebhookEndpointAnswer,
    WebhookEndpointBody,
    WebhookEndpointsAnswer,
)

if TYPE_CHECKING:
    from tollgate.events.rules import EventService
    from tollgate.events.service_alerts import AlertService
    from tollgate.events.service_webhooks import WebhookEndpointService


class EventServices(Protocol):
    def event_service(self) -> EventService: ...
    def alert_service(self) -> AlertService: ...
    def webhook_endpoint_service(self) -> WebhookEndpointService: ...


router: CapabilityRouter[EventServices] = CapabilityRouter()
logger = get_logger()
WEBHOOKS = ["webhooks"]

EventTypeFilter = Annotated[
    str | None, Query(max_length=64, description="Only events of this type (e.g. `purchase.paid`).")
]


@router.get(
    "/v1/events",
    permission=Permission.READ_EVENTS,
    responses=answers(200, EventsAnswer, 401, 403, 422),
    tags=["events"],
)
def list_events(type: EventTypeFilter = None, limit: PageLimit = None, cursor: Cursor = None) -> EventsAnswer:
    page = router.services.event_service().list(principal(), type, cursor, page_size(limit))
    return EventsAnswer.model_validate({"events": [event_view(e) for e in page.events], "next_cursor": page.cursor})


@router.post(
    "/v1/alerts",
    permission=Permission.MANAGE_ALERTS,
    status_code=201,
    responses=answers(201, AlertAnswer, 400, 401, 403, 404, 409),
    tags=["alerts"],
)
def create_alert(body: AlertBody) -> AlertAnswer:
    """Fires once when crossed and once when it recovers (events). One created while already crossed starts
    ``fired``, without an event."""
    alert = router.services.alert_service().create(principal(), body.kind, body.threshold, body.project_id)
    return AlertAnswer.model_validate({"alert": alert_view(alert)})


@router.get(
    "/v1/alerts", permission=Permission.MANAGE_ALERTS, responses=answers(200, AlertsAnswer, 401, 403), tags=["alerts"]
)
def list_alerts() -> AlertsAnswer:
    alerts = router.services.alert_service().list(principal())
    return AlertsAnswer.model_validate({"alerts": [alert_view(a) for a in alerts]})


@router.delete(
    "/v1/alerts/<alert_id>",
    permission=Permission.MANAGE_ALERTS,
    responses=answers(200, AlertAnswer, 401, 403, 404),
    tags=["alerts"],
)
def delete_alert(alert_id: str) -> AlertAnswer:
    return AlertAnswer.model_validate(
        {"alert": alert_view(router.services.alert_service().delete(principal(), alert_id))}
    )


@router.post(
    "/v1/webhook-endpoints",
    permission=Permission.MANAGE_WEBHOOKS,
    status_code=201,
    responses=answers(201, NewWebhookEndpointAnswer, 400, 401, 403, 409),
    tags=WEBHOOKS,
)
def create_webhook_endpoint(body: WebhookEndpointBody) -> NewWebhookEndpointAnswer:
    issued = router.services.webhook_endpoint_service().create(principal(), body.url, body.events, body.description)
    logger.info("webhook endpoint created", extra={"webhook_endpoint_id": issued.endpoint.id})
    return NewWebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(issued.endpoint, secret=issued.secret)})


@router.get(
    "/v1/webhook-endpoints",
    permission=Permission.MANAGE_WEBHOOKS,
    responses=answers(200, WebhookEndpointsAnswer, 401, 403),
    tags=WEBHOOKS,
)
def list_webhook_endpoints() -> WebhookEndpointsAnswer:
    endpoints = router.services.webhook_endpoint_service().list(principal())
    now = SYSTEM_CLOCK.now()
    return WebhookEndpointsAnswer.model_validate({"endpoints": [endpoint_view(e, now=now) for e in endpoints]})


@router.get(
    "/v1/webhook-endpoints/<endpoint_id>",
    permission=Permission.MANAGE_WEBHOOKS,
    responses=answers(200, WebhookEndpointAnswer, 401, 403, 404),
    tags=WEBHOOKS,
)
def get_webhook_endpoint(endpoint_id: str) -> WebhookEndpointAnswer:
    endpoint = router.services.webhook_endpoint_service().get(principal(), endpoint_id)
    return WebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(endpoint, now=SYSTEM_CLOCK.now())})


@router.delete(
    "/v1/webhook-endpoints/<endpoint_id>",
    permission=Permission.MANAGE_WEBHOOKS,
    responses=answers(200, WebhookEndpointAnswer, 401, 403, 404),
    tags=WEBHOOKS,
)
def delete_webhook_endpoint(endpoint_id: str) -> WebhookEndpointAnswer:
    endpoint = router.services.webhook_endpoint_service().delete(principal(), endpoint_id)
    logger.info("webhook endpoint deleted", extra={"webhook_endpoint_id": endpoint.id})
    return WebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(endpoint, now=SYSTEM_CLOCK.now())})


@router.post(
    "/v1/webhook-endpoints/<endpoint_id>/rotate-secret",
    permission=Permission.MANAGE_WEBHOOKS,
    responses=answers(200, NewWebhookEndpointAnswer, 401, 403, 404, 409),
    tags=WEBHOOKS,
)
def rotate_webhook_secret(endpoint_id: str) -> NewWebhookEndpointAnswer:
    issued = router.services.webhook_endpoint_service().rotate_secret(principal(), endpoint_id)
    logger.info("webhook endpoint secret rotated", extra={"webhook_endpoint_id": endpoint_id})
    view = endpoint_view(issued.endpoint, secret=issued.secret, now=SYSTEM_CLOCK.now())
    return NewWebhookEndpointAnswer.model_validate({"endpoint": view})


@router.post(
    "/v1/webhook-endpoints/<endpoint_id>/enable",
    permission=Permission.MANAGE_WEBHOOKS,
    responses=answers(200, WebhookEndpointAnswer, 401, 403, 404, 409),
    tags=WEBHOOKS,
)
def enable_webhook_endpoint(endpoint_id: str) -> WebhookEndpointAnswer:
    """Enable an endpoint again, one disabled after 5 days of failure: its deliveries and attempts are kept,
    its failing spell starts afresh. On an enabled endpoint it changes nothing (200)."""
    endpoint = router.services.webhook_endpoint_service().enable(principal(), endpoint_id)
    logger.info("webhook endpoint enabled", extra={"webhook_endpoint_id": endpoint.id})
    return WebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(endpoint, now=SYSTEM_CLOCK.now())})


@router.post(
    "/v1/webhook-endpoints/<endpoint_id>/test",
    permission=Permission.MANAGE_WEBHOOKS,
    status_code=202,
    responses=answers(202, TestEventAnswer, 401, 403, 404),
    tags=WEBHOOKS,
)
def test_webhook_endpoint(endpoint_id: str) -> TestEventAnswer:
    event = router.services.webhook_endpoint_service().send_test(principal(), endpoint_id)
    return TestEventAnswer.model_validate({"event": {"id": event.id, "type": event.type, "created_at": iso(event.at)}})


@router.get(
    "/v1/webhook-endpoints/<endpoint_id>/deliveries",
    permission=Permission.MANAGE_WEBHOOKS,
    responses=answers(200, DeliveryAttemptsAnswer, 401, 403, 404),
    tags=WEBHOOKS,
)
def list_webhook_deliveries(endpoint_id: str, limit: PageLimit = None, cursor: Cursor = None) -> DeliveryAttemptsAnswer:
    page = router.services.webhook_endpoint_service().deliveries(principal(), endpoint_id, cursor, page_size(limit))
    return DeliveryAttemptsAnswer.model_validate(
        {"deliveries": [attempt_view(a) for a in page.attempts], "next_cursor": page.cursor}
    )
