"""The one place where domain errors become HTTP statuses and the error body of SPEC.md."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tollgate.core import errors

STATUS: list[tuple[type[errors.TollgateError], int]] = [
    (errors.MalformedRequest, 400),
    (errors.InvalidField, 422),
    (errors.Unauthenticated, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.PreconditionFailed, 412),
    (errors.PreconditionRequired, 428),
    (errors.MethodNotAllowed, 405),
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


def error_body(
    code: str,
    message: str,
    request_id: str,
    field: str | None = None,
    rule_id: str | None = None,
    limit: str | None = None,
) -> str:
    detail: dict[str, str] = {"code": code, "message": message, "request_id": request_id}
    if field is not None:
        detail["field"] = field
    if rule_id is not None:
        detail["rule_id"] = rule_id
    if limit is not None:
        detail["limit"] = limit  # the budget level that refused (``environment:<project>:<name>``)
    return json.dumps({"error": detail})


def error_response(error: errors.TollgateError, request_id: str) -> dict[str, object]:
    """An API Gateway (payload 2.0) response for a domain error."""
    headers = {"Content-Type": "application/json"}
    retry_after = getattr(error, "retry_after_s", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    allow = getattr(error, "allow", None)
    if allow is not None:
        headers["Allow"] = ", ".join(allow)
    return {
        "statusCode": status_of(error),
        "headers": headers,
        "body": error_body(
            error.code,
            error.message,
            request_id,
            getattr(error, "field", None),
            getattr(error, "rule_id", None),
            error.limit if isinstance(error, errors.BudgetExhausted) else None,
        ),
    }


def internal_error_response(request_id: str) -> dict[str, object]:
    return {
        "statusCode": 500,
        "headers": {"Content-Type": "application/json"},
        "body": error_body("INTERNAL", "Something went wrong on our side; nothing was changed.", request_id),
    }


_BODY_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def refusal(problems: Sequence[Mapping[str, Any]]) -> errors.TollgateError:
    """The domain error for what Powertools' request validation found (its first problem): a 400 when the
    body as a whole is missing or not an object, else a 422 naming the field (``regions.0``, ``Idempotency-Key``)."""
    problem = problems[0] if problems else {"loc": ("body",), "type": "missing"}
    where, *path = [str(part) for part in problem.get("loc", ("body",))]
    kind = str(problem.get("type", ""))
    if where == "body" and not path:
        if kind == "missing":
            return errors.MalformedRequest("a JSON object body is required")
        if kind in _BODY_NOT_AN_OBJECT:
            return errors.MalformedRequest("the body must be a JSON object")
        return errors.MalformedRequest("the body is not valid JSON")
    if where == "header":
        field = "-".join(word.capitalize() for word in (path[-1] if path else "").split("-"))
    else:
        field = ".".join(path) or where
    return errors.InvalidField(field, _explain(kind, str(problem.get("msg", ""))))


def _explain(kind: str, message: str) -> str:
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "missing":
        return "is required"
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:] if message else "is not valid"
