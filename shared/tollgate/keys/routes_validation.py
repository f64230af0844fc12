"""The SDK's hot path: ``POST /v1/validate`` and ``GET /v1/.well-known/jwks.json`` (the validate function).

No Powertools (resolver or logger), no pynamodb, no pydantic: this function's cold start is budgeted at
1.2x of "import botocore and create one DynamoDB client" (docs/performance.md measures it). So these two
routes are not on a Powertools router: the payload-2.0 event is read directly, errors still use the one
error map (``tollgate.edge.errors``), and the routes are public (the license key is what is validated; a
missing or unparseable one is 401). The function hands in the ``ValidationService`` it builds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from tollgate.core import limits
from tollgate.core.errors import TollgateError
from tollgate.core.jsonlog import get_json_logger
from tollgate.edge import requests
from tollgate.edge.errors import error_response, internal_error_response
from tollgate.edge.routes import no_route
from tollgate.keys.rules import REGION_NAME
from tollgate.keys.service_validation import ValidationRequest, ValidationResult, ValidationService, presented_key

VALIDATE = ("POST", "/v1/validate")
JWKS = ("GET", "/v1/.well-known/jwks.json")

_BODY_JSON = json.JSONEncoder(separators=(",", ":"))  # built once: json.dumps with options builds one per call
logger = get_json_logger("validate")


@lru_cache(maxsize=64)
def iso(epoch_s: int | None) -> str | None:
    """As ``tollgate.edge.views.iso``, which this function does not import (it loads every view's model).
    Remembered: validations in the same second share their receipt's expiry, and a hit is one C call where
    ``strftime`` costs ~8 µs on the hot path (docs/performance.md)."""
    return None if epoch_s is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _json(status: int, body: Any, cache_s: int | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if cache_s is not None:
        headers["Cache-Control"] = f"public, max-age={cache_s}"
    return {"statusCode": status, "headers": headers, "body": _BODY_JSON.encode(body)}


def _route(event: dict[str, Any]) -> tuple[str, str]:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method", "")).upper(), str(event.get("rawPath") or http.get("path", ""))


def _request(event: dict[str, Any]) -> ValidationRequest:
    fields = requests.json_object(event, allow_empty=True)
    request = ValidationRequest(
        feature=fields.text("feature", required=False, max_length=limits.FEATURE_MAX),
        region=fields.text("region", required=False, max_length=limits.REGION_MAX, pattern=REGION_NAME.pattern[1:-1]),
        fingerprint=fields.text("fingerprint", required=False, max_length=limits.FINGERPRINT_MAX),
        project=fields.text("project", required=False, max_length=limits.ID_MAX),
    )
    fields.done()
    return request


def _answer(result: ValidationResult) -> dict[str, Any]:
    key = result.key
    return {
        "valid": result.valid,
        "code": result.code.value,
        "message": result.message,
        "key": None
        if key is None
        else {
            "id": key.id,
            "tenant_id": key.tenant_id,
            "regions": list(key.regions),
            "features": None if key.features is None else list(key.features),
            "project_id": key.project_id,
            "environment": key.environment,
            "expires_at": iso(key.expires_at),
        },
        "receipt": result.receipt,
        "receipt_expires_at": iso(result.claims["exp"]),
    }


def validate(validation: ValidationService, event: dict[str, Any]) -> dict[str, Any]:
    presented = presented_key(requests.bearer_token(event))
    result = validation.validate(presented, _request(event))
    logger.info(
        "validated",
        extra={"tenant_id": presented.tenant_id, "key_id": presented.key_id, "code": result.code.value},
    )
    return _json(200, _answer(result))


def handler_for(validation: ValidationService) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The function's handler over ``validation`` (built by the function, from its composition root)."""

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda's signature
        request_id = str((event.get("requestContext") or {}).get("requestId", "unknown"))
        try:
            route = _route(event)
            requests.require_json(event)
            if route == VALIDATE:
                return validate(validation, event)
            if route == JWKS:
                return _json(200, validation.jwks(), cache_s=300)
            raise no_route(*route)
        except TollgateError as error:
            extra = {"request_id": request_id, "code": error.code, "reason": error.message}
            logger.info("request refused", extra=extra)
            return error_response(error, request_id)
        except Exception:
            logger.exception("unexpected error", extra={"request_id": request_id})
            return internal_error_response(request_id)

    return handler
