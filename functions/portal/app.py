"""The tenant's self-service portal: profile, API keys, and (as they land) catalog, purchases, balance,
ledger, projects and license keys. Every route authenticates first, in one place (``principal``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.domain.license_keys import NewLicenseKey
from tollgate.domain.models import Principal
from tollgate.domain.projects import UNSET
from tollgate.domain.roles import Permission, Role, require
from tollgate.http import requests
from tollgate.http.app import build_resolver, json_response
from tollgate.http.auth import portal_principal
from tollgate.http.purchase_views import purchase_view
from tollgate.http.views import (
    api_key_view,
    balance_view,
    catalog_view,
    entry_view,
    license_key_view,
    project_view,
    tenant_view,
)
from tollgate.logs import get_logger

logger = get_logger()
app = build_resolver(logger)


def principal() -> Principal:
    caller = portal_principal(app.current_event.raw_event)
    logger.append_keys(tenant_id=caller.tenant_id, key_id=caller.key_id)
    return caller


@app.get("/v1/tenant")
def get_tenant() -> Response:
    caller = principal()
    require(caller.role or Role.MEMBER, Permission.READ_TENANT)
    return json_response(200, {"tenant": tenant_view(caller.tenant)})


@app.post("/v1/api-keys")
def create_api_key() -> Response:
    caller = principal()
    fields = requests.json_object(app.current_event.raw_event)
    name = fields.text("name", max_length=100)
    role = fields.choice("role", Role)
    fields.done()
    assert role is not None
    issued = services.tenant_service().create_api_key(caller, name, role)
    return json_response(201, {"api_key": api_key_view(issued.key, secret=issued.secret)})


@app.get("/v1/api-keys")
def list_api_keys() -> Response:
    keys = services.tenant_service().list_api_keys(principal())
    return json_response(200, {"api_keys": [api_key_view(key) for key in keys]})


@app.delete("/v1/api-keys/<key_id>")
def revoke_api_key(key_id: str) -> Response:
    key = services.tenant_service().revoke_api_key(principal(), key_id)
    return json_response(200, {"api_key": api_key_view(key)})


@app.get("/v1/catalog")
def get_catalog() -> Response:
    principal()
    catalog = services.catalog()
    return json_response(200, catalog_view(catalog.packs(), catalog.features()))


@app.get("/v1/balance")
def get_balance() -> Response:
    return json_response(200, balance_view(services.pool_service().balance(principal())))


@app.get("/v1/ledger")
def get_ledger() -> Response:
    caller = principal()
    event = app.current_event.raw_event
    page = services.pool_service().ledger(caller, requests.query_param(event, "cursor"), requests.limit_param(event))
    return json_response(200, {"entries": [entry_view(e) for e in page.entries], "next_cursor": page.cursor})


@app.post("/v1/projects")
def create_project() -> Response:
    caller = principal()
    fields = requests.json_object(app.current_event.raw_event)
    name = fields.text("name", max_length=100)
    budget = fields.integer("budget", required=False, minimum=0)
    fields.done()
    project = services.project_service().create(caller, name, budget)
    return json_response(201, {"project": project_view(project)})


@app.get("/v1/projects")
def list_projects() -> Response:
    projects = services.project_service().list(principal())
    return json_response(200, {"projects": [project_view(p) for p in projects]})


@app.patch("/v1/projects/<project_id>")
def update_project(project_id: str) -> Response:
    caller = principal()
    fields = requests.json_object(app.current_event.raw_event)
    name = fields.text("name", required=False, max_length=100)
    budget = fields.integer("budget", required=False, minimum=0) if fields.has("budget") else UNSET
    if fields.has("budget") and budget is None:
        budget = None
    fields.done()
    project = services.project_service().update(caller, project_id, name, budget)
    return json_response(200, {"project": project_view(project)})


@app.post("/v1/keys")
def create_license_key() -> Response:
    caller = principal()
    fields = requests.json_object(app.current_event.raw_event)
    features = fields.texts("features", required=False, max_items=100, max_length=64)
    request = NewLicenseKey(
        name=fields.text("name", max_length=100),
        regions=tuple(fields.texts("regions", max_items=50, max_length=32)),
        features=None if features is None else tuple(features),
        project_id=fields.text("project_id", required=False, max_length=40),
        environment=fields.text("environment", required=False, max_length=64),
        expires_at=fields.text("expires_at", required=False, max_length=40),
    )
    fields.done()
    issued = services.license_key_service().issue(caller, request)
    logger.info("license key issued", extra={"license_key_id": issued.key.id})
    return json_response(201, {"key": license_key_view(issued.key), "secret": issued.secret})


@app.get("/v1/keys")
def list_license_keys() -> Response:
    keys = services.license_key_service().list(principal())
    return json_response(200, {"keys": [license_key_view(key) for key in keys]})


@app.delete("/v1/keys/<key_id>")
def revoke_license_key(key_id: str) -> Response:
    key = services.license_key_service().revoke(principal(), key_id)
    return json_response(200, {"key": license_key_view(key)})


@app.post("/v1/keys/<key_id>/rotate")
def rotate_license_key(key_id: str) -> Response:
    issued = services.license_key_service().rotate(principal(), key_id)
    logger.info("license key rotated", extra={"license_key_id": key_id})
    return json_response(200, {"key": license_key_view(issued.key), "secret": issued.secret})


@app.post("/v1/purchases")
def create_purchase() -> Response:
    caller = principal()
    event = app.current_event.raw_event
    key = requests.idempotency_key(event, required=True)
    assert key is not None
    fields = requests.json_object(event)
    pack_id = fields.text("pack_id", max_length=64)
    quantity = fields.integer("quantity", minimum=1, maximum=1000)
    po_number = fields.text("po_number", required=False, max_length=100)
    project_id = fields.text("project_id", required=False, max_length=64)
    fields.done()
    purchase = services.purchase_service().create(caller, pack_id, quantity, po_number, project_id, key)
    return json_response(201, {"purchase": purchase_view(purchase), "checkout_url": purchase.checkout_url})


@app.get("/v1/purchases")
def list_purchases() -> Response:
    caller = principal()
    event = app.current_event.raw_event
    page = services.purchase_service().list(caller, requests.query_param(event, "cursor"), requests.limit_param(event))
    return json_response(200, {"purchases": [purchase_view(p) for p in page.purchases], "next_cursor": page.cursor})


@app.get("/v1/purchases/<purchase_id>")
def get_purchase(purchase_id: str) -> Response:
    purchase = services.purchase_service().get(principal(), purchase_id)
    return json_response(200, {"purchase": purchase_view(purchase)})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
