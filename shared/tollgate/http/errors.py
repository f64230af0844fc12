"""The one place where domain errors become HTTP statuses and the error body of SPEC.md."""

from __future__ import annotations

import json

from tollgate.domain import errors

STATUS: list[tuple[type[errors.TollgateError], int]] = [
    (errors.MalformedRequest, 400),
    (errors.InvalidField, 422),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PaymentRequired, 402),
    (errors.RateLimited, 429),
    (errors.StoreBusy, 503),
    (errors.UpstreamUnavailable, 503),
]


def status_of(error: errors.TollgateError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_body(code: str, message: str, request_id: str, field: str | None = None) -> str:
    detail: dict[str, str] = {"code": code, "message": message, "request_id": request_id}
    if field is not None:
        detail["field"] = field
    return json.dumps({"error": detail})


def error_response(error: errors.TollgateError, request_id: str) -> dict[str, object]:
    """An API Gateway (payload 2.0) response for a domain error."""
    headers = {"Content-Type": "application/json"}
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return {
        "statusCode": status_of(error),
        "headers": headers,
        "body": error_body(error.code, error.message, request_id, getattr(error, "field", None)),
    }


def internal_error_response(request_id: str) -> dict[str, object]:
    return {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json"},
        "body": error_body("INTERNAL", "Something went wrong on our side; nothing was changed.", request_id),
    }
