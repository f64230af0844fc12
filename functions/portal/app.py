"""The tenant's self-service portal: profile, API keys, catalog, purchases, balance, ledger, projects and
license keys. Each route authenticates and states the permission it needs in one call (``principal``),
reads its request model (validated by Powertools), calls one service and answers its answer model."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core import limits
from tollgate.core.clock import SYSTEM_CLOCK
from tollgate.core.logs import get_logger
from tollgate.core.models import Principal
from tollgate.core.roles import Permission, authorize
from tollgate.edge.app import build_resolver
from tollgate.edge.auth import portal_principal
from tollgate.edge.contract.answers import API_KEY
from tollgate.edge.contract.published import document
from tollgate.edge.refusals import answers
from tollgate.edge.views import (
    api_key_view,
    balance_view,
    catalog_view,
    entry_view,
    event_view,
    iso,
    license_key_view,
    project_view,
    tenant_view,
)
from tollgate.edge.views_purchases import purchase_view
from tollgate.edge.views_reports import alert_view, forecast_view, purchase_usage_view, usage_view
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
from tollgate.keys.models import (
    LicenseKeyAnswer,
    LicenseKeyBody,
    LicenseKeysAnswer,
    NewLicenseKeyAnswer,
)
from tollgate.keys.service import NewLicenseKey
from tollgate.pool.models import BalanceAnswer, LedgerAnswer
from tollgate.purchases.models import NewPurchaseAnswer, PurchaseAnswer, PurchaseBody, PurchasesAnswer
from tollgate.purchases.models_catalog import CatalogAnswer
from tollgate.reports.models import ForecastAnswer, PurchaseUsageAnswer, UsageAnswer
from tollgate.reports.rules import csv_text
from tollgate.tenancy.models import (
    ApiKeyAnswer,
    ApiKeyBody,
    ApiKeysAnswer,
    NewApiKeyAnswer,
    TenantAnswer,
)
from tollgate.tenancy.models_projects import ProjectAnswer, ProjectBody, ProjectChanges, ProjectsAnswer
from tollgate.tenancy.service_projects import UNSET

logger = get_logger()
app = build_resolver(logger, validation=True)
SECURITY: list[dict[str, list[str]]] = [{API_KEY: []}]
OPENAPI_CACHE_S = 300


PageLimit = Annotated[
    str | None,
    Query(pattern=limits.PAGE_LIMIT_PATTERN, description=f"Entries per page, 1 to {limits.PAGE_LIMIT_MAX}."),
]
Cursor = Annotated[str | None, Query(max_length=limits.CURSOR_MAX, description="`next_cursor` of the last page.")]
IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=limits.IDEMPOTENCY_KEY_MAX,
        pattern=limits.IDEMPOTENCY_KEY_PATTERN,
        description="The same key replays the first answer for 24 hours.",
    ),
]


def page_size(limit: str | None) -> int:
    return limits.PAGE_LIMIT_DEFAULT if limit is None else int(limit)


def principal(permission: Permission) -> Principal:
    """The caller, if its credential may do ``permission``; a principal without a role may do nothing here."""
    caller = portal_principal(app.current_event.raw_event)
    logger.append_keys(tenant_id=caller.tenant_id, key_id=caller.key_id)
    authorize(caller, permission)
    return caller


@app.get("/v1/tenant", security=SECURITY, responses=answers(200, TenantAnswer, 401, 403), tags=["tenant"])
def get_tenant() -> TenantAnswer:
    caller = principal(Permission.READ_TENANT)
    return TenantAnswer.model_validate({"tenant": tenant_view(caller.tenant)})


@app.post(
    "/v1/api-keys",
    status_code=201,
    security=SECURITY,
    responses=answers(201, NewApiKeyAnswer, 400, 401, 403),
    tags=["tenant"],
)
def create_api_key(body: ApiKeyBody) -> NewApiKeyAnswer:
    caller = principal(Permission.MANAGE_API_KEYS)
    issued = services.tenant_service().create_api_key(caller, body.name, body.role)
    return NewApiKeyAnswer.model_validate({"api_key": api_key_view(issued.key, secret=issued.secret)})


@app.get("/v1/api-keys", security=SECURITY, responses=answers(200, ApiKeysAnswer, 401, 403), tags=["tenant"])
def list_api_keys() -> ApiKeysAnswer:
    caller = principal(Permission.READ_API_KEYS)
    keys = services.tenant_service().list_api_keys(caller)
    return ApiKeysAnswer.model_validate({"api_keys": [api_key_view(key) for key in keys]})


@app.delete(
    "/v1/api-keys/<key_id>", security=SECURITY, responses=answers(200, ApiKeyAnswer, 401, 403, 404), tags=["tenant"]
)
def revoke_api_key(key_id: str) -> ApiKeyAnswer:
    caller = principal(Permission.MANAGE_API_KEYS)
    key = services.tenant_service().revoke_api_key(caller, key_id)
    return ApiKeyAnswer.model_validate({"api_key": api_key_view(key)})


@app.get("/v1/catalog", security=SECURITY, responses=answers(200, CatalogAnswer, 401, 403), tags=["purchases"])
def get_catalog() -> CatalogAnswer:
    principal(Permission.READ_CATALOG)
    catalog = services.catalog()
    return CatalogAnswer.model_validate(catalog_view(catalog.packs(), catalog.features()))


EventTypeFilter = Annotated[
    str | None, Query(max_length=64, description="Only events of this type (e.g. `purchase.paid`).")
]


@app.get("/v1/events", security=SECURITY, responses=answers(200, EventsAnswer, 401, 403, 422), tags=["events"])
def list_events(type: EventTypeFilter = None, limit: PageLimit = None, cursor: Cursor = None) -> EventsAnswer:
    caller = principal(Permission.READ_EVENTS)
    page = services.event_service().list(caller, type, cursor, page_size(limit))
    return EventsAnswer.model_validate({"events": [event_view(e) for e in page.events], "next_cursor": page.cursor})


@app.get("/v1/balance", security=SECURITY, responses=answers(200, BalanceAnswer, 401, 403), tags=["pool"])
def get_balance() -> BalanceAnswer:
    caller = principal(Permission.READ_BALANCE)
    balance = services.pool_service().balance(caller)
    return BalanceAnswer.model_validate(balance_view(balance))


@app.get("/v1/ledger", security=SECURITY, responses=answers(200, LedgerAnswer, 401, 403), tags=["pool"])
def get_ledger(limit: PageLimit = None, cursor: Cursor = None) -> LedgerAnswer:
    caller = principal(Permission.READ_LEDGER)
    page = services.pool_service().ledger(caller, cursor, page_size(limit))
    return LedgerAnswer.model_validate({"entries": [entry_view(e) for e in page.entries], "next_cursor": page.cursor})


@app.post(
    "/v1/projects",
    status_code=201,
    security=SECURITY,
    responses=answers(201, ProjectAnswer, 400, 401, 403),
    tags=["projects"],
)
def create_project(body: ProjectBody) -> ProjectAnswer:
    caller = principal(Permission.MANAGE_PROJECTS)
    project = services.project_service().create(caller, body.name, body.budget)
    return ProjectAnswer.model_validate({"project": project_view(project)})


@app.get("/v1/projects", security=SECURITY, responses=answers(200, ProjectsAnswer, 401, 403), tags=["projects"])
def list_projects() -> ProjectsAnswer:
    caller = principal(Permission.READ_PROJECTS)
    projects = services.project_service().list(caller)
    return ProjectsAnswer.model_validate({"projects": [project_view(p) for p in projects]})


@app.patch(
    "/v1/projects/<project_id>",
    security=SECURITY,
    responses=answers(200, ProjectAnswer, 400, 401, 403, 404),
    tags=["projects"],
)
def update_project(project_id: str, body: ProjectChanges) -> ProjectAnswer:
    caller = principal(Permission.MANAGE_PROJECTS)
    budget = body.budget if "budget" in body.model_fields_set else UNSET
    project = services.project_service().update(caller, project_id, body.name, budget)
    return ProjectAnswer.model_validate({"project": project_view(project)})


@app.post(
    "/v1/keys",
    status_code=201,
    security=SECURITY,
    responses=answers(201, NewLicenseKeyAnswer, 400, 401, 403),
    tags=["license keys"],
)
def create_license_key(body: LicenseKeyBody) -> NewLicenseKeyAnswer:
    caller = principal(Permission.MANAGE_LICENSE_KEYS)
    request = NewLicenseKey(
        name=body.name,
        regions=tuple(body.regions),
        features=None if body.features is None else tuple(body.features),
        project_id=body.project_id,
        environment=body.environment,
        expires_at=body.expires_at,
    )
    issued = services.license_key_service().issue(caller, request)
    logger.info("license key issued", extra={"license_key_id": issued.key.id})
    return NewLicenseKeyAnswer.model_validate({"key": license_key_view(issued.key), "secret": issued.secret})


@app.get("/v1/keys", security=SECURITY, responses=answers(200, LicenseKeysAnswer, 401, 403), tags=["license keys"])
def list_license_keys() -> LicenseKeysAnswer:
    caller = principal(Permission.READ_LICENSE_KEYS)
    keys = services.license_key_service().list(caller)
    return LicenseKeysAnswer.model_validate({"keys": [license_key_view(key) for key in keys]})


@app.delete(
    "/v1/keys/<key_id>",
    security=SECURITY,
    responses=answers(200, LicenseKeyAnswer, 401, 403, 404),
    tags=["license keys"],
)
def revoke_license_key(key_id: str) -> LicenseKeyAnswer:
    caller = principal(Permission.MANAGE_LICENSE_KEYS)
    key = services.license_key_service().revoke(caller, key_id)
    return LicenseKeyAnswer.model_validate({"key": license_key_view(key)})


@app.post(
    "/v1/keys/<key_id>/rotate",
    security=SECURITY,
    responses=answers(200, NewLicenseKeyAnswer, 401, 403, 404, 409),
    tags=["license keys"],
)
def rotate_license_key(key_id: str) -> NewLicenseKeyAnswer:
    caller = principal(Permission.MANAGE_LICENSE_KEYS)
    issued = services.license_key_service().rotate(caller, key_id)
    logger.info("license key rotated", extra={"license_key_id": key_id})
    return NewLicenseKeyAnswer.model_validate({"key": license_key_view(issued.key), "secret": issued.secret})


@app.post(
    "/v1/purchases",
    status_code=201,
    security=SECURITY,
    responses=answers(201, NewPurchaseAnswer, 400, 401, 403, 409),
    tags=["purchases"],
)
def create_purchase(body: PurchaseBody, idempotency_key: IdempotencyKey) -> NewPurchaseAnswer:
    caller = principal(Permission.BUY)
    purchase = services.purchase_service().create(
        caller, body.pack_id, body.quantity, body.po_number, body.project_id, idempotency_key
    )
    return NewPurchaseAnswer.model_validate(
        {"purchase": purchase_view(purchase), "checkout_url": purchase.checkout_url}
    )


@app.get("/v1/purchases", security=SECURITY, responses=answers(200, PurchasesAnswer, 401, 403), tags=["purchases"])
def list_purchases(limit: PageLimit = None, cursor: Cursor = None) -> PurchasesAnswer:
    caller = principal(Permission.READ_PURCHASES)
    page = services.purchase_service().list(caller, cursor, page_size(limit))
    return PurchasesAnswer.model_validate(
        {"purchases": [purchase_view(p) for p in page.purchases], "next_cursor": page.cursor}
    )


@app.get(
    "/v1/purchases/<purchase_id>",
    security=SECURITY,
    responses=answers(200, PurchaseAnswer, 401, 403, 404),
    tags=["purchases"],
)
def get_purchase(purchase_id: str) -> PurchaseAnswer:
    caller = principal(Permission.READ_PURCHASES)
    purchase = services.purchase_service().get(caller, purchase_id)
    return PurchaseAnswer.model_validate({"purchase": purchase_view(purchase)})


Day = Annotated[str | None, Query(pattern=limits.DAY_PATTERN, description="A UTC day, YYYY-MM-DD.")]
Granularity = Annotated[str | None, Query(pattern=limits.GRANULARITY_PATTERN, description="day (default) or month.")]
GroupBy = Annotated[
    str | None,
    Query(
        pattern=limits.GROUP_BY_PATTERN,
        max_length=limits.GROUP_BY_MAX,
        description="Comma-separated: feature, project, key.",
    ),
]
Accept = Annotated[str | None, Header(alias="Accept", max_length=limits.ACCEPT_MAX)]
CSV = "text/csv"
_USAGE_ANSWERS = answers(200, UsageAnswer, 401, 403)
_USAGE_ANSWERS[200]["content"][CSV] = {"schema": {"type": "string", "description": "RFC 4180, a header line."}}


@app.get("/v1/usage", security=SECURITY, responses=_USAGE_ANSWERS, tags=["reports"])
def get_usage(
    first: Annotated[str | None, Query(alias="from", pattern=limits.DAY_PATTERN, description="First UTC day.")] = None,
    to: Day = None,
    granularity: Granularity = None,
    group_by: GroupBy = None,
    accept: Accept = None,
) -> Response[Any]:
    """Spending over a range of UTC days (both inclusive; the last 30 days by default), in days or months,
    grouped by feature, project and key; ``Accept: text/csv`` answers CSV. Totals equal the ledger's
    spending entries (consumption, lease and allowance charges) over the range."""
    caller = principal(Permission.READ_USAGE)
    usage = services.report_service().usage(caller, first, to, granularity, group_by)
    if accept is not None and CSV in accept.lower():
        return Response(200, f"{CSV}; charset=utf-8", csv_text(usage))
    return Response(200, "application/json", UsageAnswer.model_validate(usage_view(usage)).model_dump(mode="json"))


@app.get("/v1/usage/forecast", security=SECURITY, responses=answers(200, ForecastAnswer, 401, 403), tags=["reports"])
def get_forecast() -> ForecastAnswer:
    caller = principal(Permission.READ_USAGE)
    return ForecastAnswer.model_validate(forecast_view(services.report_service().forecast(caller)))


@app.get(
    "/v1/purchases/<purchase_id>/usage",
    security=SECURITY,
    responses=answers(200, PurchaseUsageAnswer, 401, 403, 404),
    tags=["reports"],
)
def get_purchase_usage(purchase_id: str) -> PurchaseUsageAnswer:
    caller = principal(Permission.READ_USAGE)
    usage = services.report_service().purchase_usage(caller, purchase_id)
    return PurchaseUsageAnswer.model_validate(purchase_usage_view(usage))


@app.post(
    "/v1/alerts",
    status_code=201,
    security=SECURITY,
    responses=answers(201, AlertAnswer, 400, 401, 403, 404, 409),
    tags=["alerts"],
)
def create_alert(body: AlertBody) -> AlertAnswer:
    """Fires once when crossed and once when it recovers (events). One created while already crossed starts
    ``fired``, without an event."""
    caller = principal(Permission.MANAGE_ALERTS)
    alert = services.alert_service().create(caller, body.kind, body.threshold, body.project_id)
    return AlertAnswer.model_validate({"alert": alert_view(alert)})


@app.get("/v1/alerts", security=SECURITY, responses=answers(200, AlertsAnswer, 401, 403), tags=["alerts"])
def list_alerts() -> AlertsAnswer:
    caller = principal(Permission.MANAGE_ALERTS)
    return AlertsAnswer.model_validate({"alerts": [alert_view(a) for a in services.alert_service().list(caller)]})


@app.delete(
    "/v1/alerts/<alert_id>", security=SECURITY, responses=answers(200, AlertAnswer, 401, 403, 404), tags=["alerts"]
)
def delete_alert(alert_id: str) -> AlertAnswer:
    caller = principal(Permission.MANAGE_ALERTS)
    return AlertAnswer.model_validate({"alert": alert_view(services.alert_service().delete(caller, alert_id))})


@app.post(
    "/v1/webhook-endpoints",
    status_code=201,
    security=SECURITY,
    responses=answers(201, NewWebhookEndpointAnswer, 400, 401, 403, 409),
    tags=["webhooks"],
)
def create_webhook_endpoint(body: WebhookEndpointBody) -> NewWebhookEndpointAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    issued = services.webhook_endpoint_service().create(caller, body.url, body.events, body.description)
    logger.info("webhook endpoint created", extra={"webhook_endpoint_id": issued.endpoint.id})
    return NewWebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(issued.endpoint, secret=issued.secret)})


@app.get(
    "/v1/webhook-endpoints",
    security=SECURITY,
    responses=answers(200, WebhookEndpointsAnswer, 401, 403),
    tags=["webhooks"],
)
def list_webhook_endpoints() -> WebhookEndpointsAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    endpoints = services.webhook_endpoint_service().list(caller)
    now = SYSTEM_CLOCK.now()
    return WebhookEndpointsAnswer.model_validate({"endpoints": [endpoint_view(e, now=now) for e in endpoints]})


@app.get(
    "/v1/webhook-endpoints/<endpoint_id>",
    security=SECURITY,
    responses=answers(200, WebhookEndpointAnswer, 401, 403, 404),
    tags=["webhooks"],
)
def get_webhook_endpoint(endpoint_id: str) -> WebhookEndpointAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    endpoint = services.webhook_endpoint_service().get(caller, endpoint_id)
    return WebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(endpoint, now=SYSTEM_CLOCK.now())})


@app.delete(
    "/v1/webhook-endpoints/<endpoint_id>",
    security=SECURITY,
    responses=answers(200, WebhookEndpointAnswer, 401, 403, 404),
    tags=["webhooks"],
)
def delete_webhook_endpoint(endpoint_id: str) -> WebhookEndpointAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    endpoint = services.webhook_endpoint_service().delete(caller, endpoint_id)
    logger.info("webhook endpoint deleted", extra={"webhook_endpoint_id": endpoint.id})
    return WebhookEndpointAnswer.model_validate({"endpoint": endpoint_view(endpoint, now=SYSTEM_CLOCK.now())})


@app.post(
    "/v1/webhook-endpoints/<endpoint_id>/rotate-secret",
    security=SECURITY,
    responses=answers(200, NewWebhookEndpointAnswer, 401, 403, 404, 409),
    tags=["webhooks"],
)
def rotate_webhook_secret(endpoint_id: str) -> NewWebhookEndpointAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    issued = services.webhook_endpoint_service().rotate_secret(caller, endpoint_id)
    logger.info("webhook endpoint secret rotated", extra={"webhook_endpoint_id": endpoint_id})
    view = endpoint_view(issued.endpoint, secret=issued.secret, now=SYSTEM_CLOCK.now())
    return NewWebhookEndpointAnswer.model_validate({"endpoint": view})


@app.post(
    "/v1/webhook-endpoints/<endpoint_id>/test",
    status_code=202,
    security=SECURITY,
    responses=answers(202, TestEventAnswer, 401, 403, 404),
    tags=["webhooks"],
)
def test_webhook_endpoint(endpoint_id: str) -> TestEventAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    event = services.webhook_endpoint_service().send_test(caller, endpoint_id)
    return TestEventAnswer.model_validate({"event": {"id": event.id, "type": event.type, "created_at": iso(event.at)}})


@app.get(
    "/v1/webhook-endpoints/<endpoint_id>/deliveries",
    security=SECURITY,
    responses=answers(200, DeliveryAttemptsAnswer, 401, 403, 404),
    tags=["webhooks"],
)
def list_webhook_deliveries(endpoint_id: str, limit: PageLimit = None, cursor: Cursor = None) -> DeliveryAttemptsAnswer:
    caller = principal(Permission.MANAGE_WEBHOOKS)
    page = services.webhook_endpoint_service().deliveries(caller, endpoint_id, cursor, page_size(limit))
    return DeliveryAttemptsAnswer.model_validate(
        {"deliveries": [attempt_view(a) for a in page.attempts], "next_cursor": page.cursor}
    )


@app.get("/v1/openapi.json", security=[], responses=answers(200, None), tags=["contract"], summary="This document.")
def get_openapi() -> Response[dict[str, Any]]:
    """Public and cacheable: generated from the models at build time (``python -m infra.contract``)."""
    return Response(
        status_code=200,
        content_type="application/json",
        body=document(),
        headers={"Cache-Control": f"public, max-age={OPENAPI_CACHE_S}"},
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
