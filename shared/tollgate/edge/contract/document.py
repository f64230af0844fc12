"""The one OpenAPI 3.1 document: the portal's, signup's and approvals' parts as Powertools generates them from
their models, merged with the parts declared as plain data (SDK routes, the Stripe webhook), the outbound
events under ``webhooks``, and what the document says for people: each operation's verb ``operationId``,
summary and description (``operations.py``), who may call it (``access.py``, from each route's gate),
examples from the models, integer page limits, the headers a route requires or answers.

``infra/contract.py`` builds it and writes ``openapi.json`` beside this module; the portal serves that file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from tollgate.core import limits
from tollgate.edge.contract import billing, sdk
from tollgate.edge.contract.answers import API_KEY, ERROR_REF, SECURITY_SCHEMES, refusal
from tollgate.edge.contract.operations import OPERATIONS

TITLE = "Tollgate API"
VERSION = "1"
_BODY_METHODS = ("post", "put", "patch", "delete")
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
METHODS = ("get", "put", "post", "delete", "patch")
SCHEMAS = "#/components/schemas/"

# Query strings the server reads as text to refuse what is not plain ASCII digits (``²``, `` 5``), which the
# document types as the integers they are.
_INTEGER_PATTERNS = {limits.PAGE_LIMIT_PATTERN: (1, limits.PAGE_LIMIT_MAX)}
_FORMATS = {limits.DAY_PATTERN: "date"}  # a UTC day in a query: a generated client takes a date
_HEADER_EXAMPLES = {"idempotency-key": "consume-build-0001", "if-match": '"0"'}  # by lower-case name
_NO_EXAMPLE = {"POST /v1/tenants"}  # signup's key replays the owner's secret: a shared example would leak it

TAGS = [
    {"name": "tenant", "description": "Sign up, the tenant, its API keys."},
    {"name": "projects", "description": "Projects and their token budgets."},
    {"name": "budgets", "description": "Budgets at four levels: tenant, project, environment, license key."},
    {"name": "purchases", "description": "The catalog and buying tokens through Stripe Checkout."},
    {"name": "pool", "description": "The balance, its lots and the ledger."},
    {"name": "license keys", "description": "License keys for the vendor SDK."},
    {"name": "sdk", "description": "What the vendor SDK calls: validate, consume, leases, allowances."},
    {"name": "approvals", "description": "The action policy, actions and reviews, the decision log."},
    {"name": "reports", "description": "Usage reports and the depletion forecast."},
    {"name": "events", "description": "Outbound events (their payloads are under `webhooks`)."},
    {"name": "webhooks", "description": "Endpoints that receive the events, and their deliveries."},
    {"name": "alerts", "description": "Thresholds that raise events."},
    {"name": "billing", "description": "Stripe's calls to Tollgate."},
    {"name": "contract", "description": "This document."},
]


def merge(
    generated: list[dict[str, Any]],
    access: Mapping[str, str] | None = None,
    public: frozenset[str] = frozenset(),
    webhooks: tuple[dict[str, Any], dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One document from Powertools' generated parts and the declared ones. ``access``: ``METHOD path`` →
    who may call it (a sentence); ``public``: the ``METHOD path`` of routes that take no credential;
    ``webhooks``: the payload schemas and, per event type, its payload's schema name."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for part in generated:
        for path, operations in part.get("paths", {}).items():
            for method, operation in operations.items():
                paths.setdefault(path, {})[method] = _our_422(operation)
        schemas.update(part.get("components", {}).get("schemas", {}))
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    declared_schemas = {**sdk.SCHEMAS, **billing.SCHEMAS}
    clash = set(declared_schemas) & set(schemas)
    assert not clash, f"declared schemas named as generated ones: {clash}"
    for declared in (sdk.PATHS, billing.PATHS):
        for path, operations in _named(copy.deepcopy(declared), declared_schemas).items():
            paths.setdefault(path, {}).update(operations)
    for operations in paths.values():
        for method, operation in operations.items():
            if method in _BODY_METHODS:  # tollgate.edge.requests.require_json: any of these may be a 415
                operation.setdefault("responses", {}).setdefault("415", refusal(415))
    schemas.update({name: _named(schema, declared_schemas, name) for name, schema in declared_schemas.items()})
    for path, item in paths.items():
        for method, operation in item.items():
            key = f"{method.upper()} {path}"
            _describe(key, operation, (access or {}).get(key), key in public)
            _parameters(key, operation)
            _example(operation, schemas)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Token licensing: signup, the tenant's portal, the vendor SDK's routes and Stripe's "
            'webhook. Errors are `{"error": {"code", "message", "request_id", "field"}}` (the `Error` '
            "schema). Every operation says which roles may call it; docs/api.md has the whole matrix.",
            "license": {"name": "Proprietary: the vendor's own terms", "identifier": "LicenseRef-Proprietary"},
        },
        "servers": [{"url": "/", "description": "This deployment: the API serves this document itself."}],
        "security": [{API_KEY: []}],
        "tags": TAGS,
        "paths": {path: paths[path] for path in sorted(paths)},
    }
    if webhooks is not None:
        payloads, by_type = webhooks
        clash = {name for name in set(payloads) & set(schemas) if payloads[name] != schemas[name]}
        assert not clash, f"event payload schemas named as other schemas: {clash}"
        schemas.update(payloads)
        document["webhooks"] = {event: _webhook(event, name) for event, name in sorted(by_type.items())}
    document["components"] = {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES}
    return document


def _describe(key: str, operation: dict[str, Any], who: str | None, public: bool) -> None:
    """The operation's verb id, summary and description (``operations.py``), and who may call it. A route
    without an entry keeps what Powertools generated, which ``test_contract_document`` refuses."""
    entry = OPERATIONS.get(key)
    if entry is not None:
        operation["operationId"] = entry.id
        operation["summary"] = entry.summary
        operation["description"] = entry.description
        for status, answer in operation.get("responses", {}).items():
            if status.startswith("2") and entry.answer_headers:
                answer["headers"] = copy.deepcopy(entry.answer_headers)
    if who is not None:
        operation["description"] = (operation.get("description", "") + "\n\n" + who).strip()
    if public:
        operation["security"] = []


def _parameters(key: str, operation: dict[str, Any]) -> None:
    entry = OPERATIONS.get(key)
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        bounds = _INTEGER_PATTERNS.get(schema.get("pattern", ""))
        if bounds is not None and parameter.get("in") == "query":
            description = schema.get("description")
            parameter["schema"] = {"type": "integer", "minimum": bounds[0], "maximum": bounds[1]}
            if description:
                parameter["schema"]["description"] = description
        if schema.get("pattern") in _FORMATS:
            schema["format"] = _FORMATS[schema["pattern"]]
        name = str(parameter.get("name", "")).lower()
        if entry is not None and name in {header.lower() for header in entry.required_headers}:
            parameter["required"] = True
        if name in _HEADER_EXAMPLES and parameter.get("required") and key not in _NO_EXAMPLE:
            parameter["example"] = _HEADER_EXAMPLES[name]


def _example(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """A request body's example, from its model's ``examples`` (Swagger UI's default body)."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return
    ref = content.get("schema", {}).get("$ref", "")
    examples = schemas.get(ref.removeprefix(SCHEMAS), {}).get("examples") if ref.startswith(SCHEMAS) else None
    if examples:
        content["example"] = copy.deepcopy(examples[0])


def _named(node: Any, named: dict[str, dict[str, Any]], defining: str | None = None) -> Any:
    """``node`` with every declared schema it contains (by equality) replaced by a ``$ref`` to its
    component, so that one shape is one schema (one ``Lease``), whatever answers carry it."""
    if isinstance(node, dict):
        for name, schema in named.items():
            if name != defining and node == schema:
                return {"$ref": SCHEMAS + name}
        return {key: _named(value, named) for key, value in node.items()}
    if isinstance(node, list):
        return [_named(value, named) for value in node]
    return node


def _webhook(event_type: str, schema_name: str) -> dict[str, Any]:
    words = event_type.replace("_", ".").split(".")
    return {
        "post": {
            "operationId": "on" + "".join(word.capitalize() for word in words),
            "summary": f"The `{event_type}` event",
            "description": f"Sent to each webhook endpoint subscribed to `{event_type}`, signed per Standard "
            "Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), at least once: deduplicate on "
            "`id`. Any 2xx answer acknowledges it; anything else is retried with backoff for at least 3 days.",
            "tags": ["events"],
            "security": [],
            "parameters": [
                _signature_header("webhook-id", "The event's id (the same on every retry)."),
                _signature_header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                _signature_header("webhook-signature", "`v1,<base64 HMAC-SHA256>` under the endpoint's secret."),
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": SCHEMAS + schema_name}}},
            },
            "responses": {
                "200": {"description": "Received (any 2xx acknowledges the delivery)."},
                "400": {"description": "Refused (any other answer, or none within 5 s, is retried)."},
            },
        }
    }


def _signature_header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}


def _our_422(operation: dict[str, Any]) -> dict[str, Any]:
    """Powertools documents its own validation error for 422; ours answer the error envelope instead, so
    every 422 points there. Also: a header or query parameter is absent or a string, never null
    (Powertools documents an optional one as ``anyOf: [string, null]``)."""
    operation = copy.deepcopy(operation)
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
        if len(options) == 1 and len(schema["anyOf"]) == 2:
            del schema["anyOf"]
            schema.update(options[0])
    refused = operation.get("responses", {}).get("422")
    if refused is not None:
        refused["content"] = {"application/json": {"schema": {"$ref": ERROR_REF}}}
    return operation
