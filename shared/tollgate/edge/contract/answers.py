"""The error answers and credentials every part of the document shares. Plain data: no pydantic."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = "Error"  # the pydantic model in tollgate.edge.refusals; its component name
ERROR_REF = f"#/components/schemas/{ERROR_SCHEMA}"

API_KEY = "apiKey"
LICENSE_KEY = "licenseKey"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tg_…",
        "description": "A tenant API key (`tg_…`); its role decides what it may do (docs/api.md).",
    },
    LICENSE_KEY: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tgk_…",
        "description": "A license key (`tgk_…`) for the SDK routes, which also take an API key whose role may consume.",
    },
}

REASONS: dict[int, str] = {
    400: "MALFORMED_REQUEST: the body is not JSON, not an object, nested too deep, or has duplicate keys.",
    401: "UNAUTHENTICATED: no credential, or an unknown, malformed or revoked one.",
    402: "INSUFFICIENT_TOKENS or PROJECT_BUDGET_EXHAUSTED: nothing was charged.",
    403: "FORBIDDEN (role or key scope), TENANT_SUSPENDED, REGION_NOT_ALLOWED, or the tenant's policy: "
    "ACTION_DENIED or APPROVAL_REQUIRED (`rule_id` names the rule).",
    404: "NOT_FOUND: no such id for this tenant (another tenant's ids look the same).",
    409: "IDEMPOTENCY_KEY_REUSED or another conflict with the record's state.",
    412: "PRECONDITION_FAILED: `If-Match` names another version than the current one; read it again.",
    428: "PRECONDITION_REQUIRED: send `If-Match` with the version the change was made from.",
    415: "UNSUPPORTED_MEDIA_TYPE: a body that is not `application/json` (form, multipart, text, or none declared); "
    "nothing was changed.",
    422: "INVALID_FIELD: a field is missing, of the wrong type, out of range, or unknown; `field` names it.",
    429: "Too many requests: throttled. Retry later.",
    503: "STORE_BUSY or UPSTREAM_UNAVAILABLE: nothing was changed; `Retry-After` says when to retry.",
}

RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def refusal(status: int) -> dict[str, Any]:
    """One error answer, as plain OpenAPI."""
    answer: dict[str, Any] = {
        "description": REASONS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
    if status in (429, 503):
        answer["headers"] = RETRY_AFTER
    return answer
