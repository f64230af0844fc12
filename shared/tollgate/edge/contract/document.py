"""The one OpenAPI 3.1 document: the portal's and signup's parts as Powertools generates them from their
models, merged with the parts declared as plain data (SDK routes, the Stripe webhook).

``infra/contract.py`` builds it and writes ``openapi.json`` beside this module; the portal serves that file.
"""

from __future__ import annotations

import copy
from typing import Any

from tollgate.edge.contract import billing, sdk
from tollgate.edge.contract.answers import ERROR_REF, SECURITY_SCHEMES, refusal

TITLE = "Tollgate API"
VERSION = "1"
_BODY_METHODS = ("post", "put", "patch", "delete")
_POWERTOOLS_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def merge(generated: list[dict[str, Any]]) -> dict[str, Any]:
    """One document from Powertools' generated parts and the declared ones. Powertools documents its own
    validation error for 422; ours answer the error envelope instead, so every 422 points there."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for part in generated:
        for path, operations in part.get("paths", {}).items():
            for method, operation in operations.items():
                paths.setdefault(path, {})[method] = _our_422(operation)
        schemas.update(part.get("components", {}).get("schemas", {}))
    for declared in (sdk.PATHS, billing.PATHS):
        for path, operations in copy.deepcopy(declared).items():
            paths.setdefault(path, {}).update(operations)
    for operations in paths.values():
        for method, operation in operations.items():
            if method in _BODY_METHODS:  # tollgate.edge.requests.require_json: any of these may be a 415
                operation.setdefault("responses", {}).setdefault("415", refusal(415))
    for name in _POWERTOOLS_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Token licensing: portal, signup, SDK and billing routes. Errors are "
            '`{"error": {"code", "message", "request_id", "field"}}`; docs/api.md has the role matrix.',
        },
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
    }


def _our_422(operation: dict[str, Any]) -> dict[str, Any]:
    """Also: a header or query parameter is absent or a string, never null (Powertools documents an
    optional one as ``anyOf: [string, null]``)."""
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
