"""The SDK routes' contract, declared as plain OpenAPI beside their small hand parsers (functions/validate,
functions/usage), whose cold start cannot afford pydantic. ``tests/unit/test_contract_sdk.py`` proves each
parser and its declaration agree: the same fields, bounds, required-ness and answers."""

from __future__ import annotations

from typing import Any

from tollgate.core import limits
from tollgate.edge.contract.answers import API_KEY, LICENSE_KEY, refusal
from tollgate.holds.service_allowances import MAX_TTL_S, MIN_TTL_S, AllowanceStatus
from tollgate.holds.service_leases import MAX_LEASE_S
from tollgate.keys.service_validation import Code

SDK_SECURITY: list[dict[str, list[str]]] = [{LICENSE_KEY: []}, {API_KEY: []}]


def text(max_length: int, pattern: str = limits.TEXT_PATTERN) -> dict[str, Any]:
    """A non-blank string without control characters (``Fields.text``)."""
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": pattern}


def integer(minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), optional_null: bool = False) -> dict[str, Any]:
    """``optional_null``: a request body, whose parser (``Fields``) reads an optional field sent as null as
    absent; the declaration says so."""
    if optional_null:
        properties = {name: s if name in required else nullable(s) for name, s in properties.items()}
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


TIMESTAMP: dict[str, Any] = {"type": "string", "format": "date-time"}


def json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def answer(description: str, schema: dict[str, Any], headers: dict[str, Any] | None = None) -> dict[str, Any]:
    declared: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        declared["headers"] = headers
    return declared


def header(name: str, schema: dict[str, Any], required: bool, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema, "description": description}


def path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def refusals(*statuses: int) -> dict[str, Any]:
    return {str(status): refusal(status) for status in sorted({*statuses, 429, 503})}


IDEMPOTENCY_KEY = header(
    "Idempotency-Key",
    {
        "type": "string",
        "minLength": 1,
        "maxLength": limits.IDEMPOTENCY_KEY_MAX,
        "pattern": limits.IDEMPOTENCY_KEY_PATTERN,
    },
    required=True,
    description="One key per logical call, reused on every retry: the first answer is replayed for 24 hours.",
)
REGION_HEADER = header(
    "X-Tollgate-Region",
    {"type": "string", "maxLength": limits.REGION_MAX, "pattern": limits.REGION_PATTERN},
    required=False,
    description="Where the client runs, checked against the license key's regions.",
)
PREFER = header(
    "Prefer",
    {"type": "string", "examples": ["return=minimal"]},
    required=False,
    description="`return=minimal`: no `balance_after`, one DynamoDB request (the SDK's hot path). Other "
    "preferences are ignored, as RFC 7240 asks of a server that does not know them.",
)

# ------------------------------------------------------------------------------------------ validate

VALIDATE_BODY = obj(
    {
        "feature": text(limits.FEATURE_MAX),
        "region": text(limits.REGION_MAX, limits.REGION_PATTERN),
        "fingerprint": text(limits.FINGERPRINT_MAX),
        "project": text(limits.ID_MAX),
    },
    optional_null=True,
)
SCOPE = obj(
    {
        "id": {"type": "string"},
        "tenant_id": {"type": "string"},
        "regions": {"type": "array", "items": {"type": "string"}},
        "features": nullable({"type": "array", "items": {"type": "string"}}),
        "project_id": nullable({"type": "string"}),
        "environment": nullable({"type": "string"}),
        "expires_at": nullable(TIMESTAMP),
    },
    ("id", "tenant_id", "regions", "features", "project_id", "environment", "expires_at"),
)
VALIDATION_ANSWER = obj(
    {
        "valid": {"type": "boolean"},
        "code": {"type": "string", "enum": [code.value for code in Code]},
        "message": {"type": "string"},
        "key": nullable(SCOPE),
        "receipt": {"type": "string", "description": "A compact JWS (EdDSA); verify it with the JWKS."},
        "receipt_expires_at": nullable(TIMESTAMP),
    },
    ("valid", "code", "message", "key", "receipt", "receipt_expires_at"),
)
JWK = obj(
    {
        "kty": {"type": "string", "const": "OKP"},
        "crv": {"type": "string", "const": "Ed25519"},
        "x": {"type": "string"},
        "kid": {"type": "string"},
        "alg": {"type": "string", "const": "EdDSA"},
        "use": {"type": "string", "const": "sig"},
    },
    ("kty", "crv", "x", "kid", "alg", "use"),
)
JWKS_ANSWER = obj({"keys": {"type": "array", "items": JWK}}, ("keys",))
CACHE_CONTROL = {"Cache-Control": {"description": "public, max-age=…", "schema": {"type": "string"}}}

# ------------------------------------------------------------------------------------------ usage

CONSUME_BODY = obj(
    {
        "feature": text(limits.FEATURE_MAX),
        "quantity": integer(1, limits.MAX_CONSUME_QUANTITY),
        "action_id": text(limits.ID_MAX)
        | {"description": "Redeem this approved action: at most its quantity of its feature, charged from its hold."},
    },
    ("feature",),
    optional_null=True,
)
CONSUME_ANSWER = obj(
    {
        "charged": {"type": "integer", "minimum": 0},
        "entry_id": {"type": "string"},
        "balance_after": {"type": "integer", "description": "Left out with `Prefer: return=minimal`."},
        "action_id": {"type": "string", "description": "The action redeemed (with `action_id` only)."},
    },
    ("charged", "entry_id"),
)
LEASE_BODY = obj(
    {"feature": text(limits.FEATURE_MAX), "duration_s": integer(1, MAX_LEASE_S)},
    ("feature", "duration_s"),
    optional_null=True,
)
HEARTBEAT_BODY = obj({"extend_s": integer(1, MAX_LEASE_S)}, optional_null=True)
LEASE = obj(
    {
        "id": {"type": "string"},
        "feature": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed", "expired"]},
        "started_at": nullable(TIMESTAMP),
        "expires_at": nullable(TIMESTAMP),
        "heartbeat_interval_s": {"type": "integer"},
        "cost_per_hour": {"type": "integer"},
        "reserved": {"type": "integer"},
        "charged": nullable({"type": "integer"}),
        "ended_at": nullable(TIMESTAMP),
        "project_id": nullable({"type": "string"}),
    },
    (
        "id",
        "feature",
        "status",
        "started_at",
        "expires_at",
        "heartbeat_interval_s",
        "cost_per_hour",
        "reserved",
        "charged",
        "ended_at",
        "project_id",
    ),
)
LEASE_ANSWER = obj({"lease": LEASE}, ("lease",))

ALLOWANCE_BODY = obj(
    {
        "feature": text(limits.FEATURE_MAX),
        "tokens": integer(1, limits.MAX_TOKENS),
        "ttl_s": integer(MIN_TTL_S, MAX_TTL_S),
    },
    ("feature", "tokens"),
    optional_null=True,
)
SETTLE_BODY = obj(
    {
        "used": integer(0, limits.MAX_TOKENS),
        "final": {"type": "boolean", "description": "Settle and release the rest: the allowance ends."},
        "renew": {"type": "boolean", "description": "Settle and hold a new block, in one call."},
    },
    ("used",),
    optional_null=True,
)
ALLOWANCE = obj(
    {
        "id": {"type": "string"},
        "feature": {"type": "string"},
        "status": {"type": "string", "enum": [status.value for status in AllowanceStatus]},
        "cost_per_use": {"type": "integer"},
        "block": {"type": "integer"},
        "held": {"type": "integer"},
        "used": {"type": "integer"},
        "charged": {"type": "integer"},
        "opened_at": nullable(TIMESTAMP),
        "expires_at": nullable(TIMESTAMP),
        "ttl_s": {"type": "integer"},
        "project_id": nullable({"type": "string"}),
    },
    (
        "id",
        "feature",
        "status",
        "cost_per_use",
        "block",
        "held",
        "used",
        "charged",
        "opened_at",
        "expires_at",
        "ttl_s",
        "project_id",
    ),
)
ALLOWANCE_ANSWER = obj({"allowance": ALLOWANCE}, ("allowance",))


def example(schema: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a body a person would send (Swagger UI's default; the unit test runs it through the
    route's parser)."""
    return {**schema, "examples": [body]}


VALIDATE_BODY = example(VALIDATE_BODY, {"feature": "build", "region": "eu-west-1"})
CONSUME_BODY = example(CONSUME_BODY, {"feature": "build", "quantity": 1})
LEASE_BODY = example(LEASE_BODY, {"feature": "build", "duration_s": 3600})
HEARTBEAT_BODY = example(HEARTBEAT_BODY, {"extend_s": 600})
ALLOWANCE_BODY = example(ALLOWANCE_BODY, {"feature": "build", "tokens": 100})
SETTLE_BODY = example(SETTLE_BODY, {"used": 42, "final": True})

# The component name of each declared shape: the document refers to each by name (one ``Lease``, whichever
# answer carries it).
SCHEMAS: dict[str, dict[str, Any]] = {
    "ValidateBody": VALIDATE_BODY,
    "LicenseKeyScope": SCOPE,
    "ValidationAnswer": VALIDATION_ANSWER,
    "JsonWebKey": JWK,
    "JsonWebKeySet": JWKS_ANSWER,
    "ConsumeBody": CONSUME_BODY,
    "ConsumeAnswer": CONSUME_ANSWER,
    "LeaseBody": LEASE_BODY,
    "HeartbeatBody": HEARTBEAT_BODY,
    "Lease": LEASE,
    "LeaseAnswer": LEASE_ANSWER,
    "AllowanceBody": ALLOWANCE_BODY,
    "SettleBody": SETTLE_BODY,
    "Allowance": ALLOWANCE,
    "AllowanceAnswer": ALLOWANCE_ANSWER,
}

PATHS: dict[str, dict[str, Any]] = {
    "/v1/validate": {
        "post": {
            "tags": ["sdk"],
            "security": [{LICENSE_KEY: []}],
            "requestBody": json_body(VALIDATE_BODY, required=False),
            "responses": {"200": answer("The verdict and its receipt.", VALIDATION_ANSWER), **refusals(400, 401, 422)},
        }
    },
    "/v1/.well-known/jwks.json": {
        "get": {
            "tags": ["sdk"],
            "security": [],
            "responses": {
                "200": answer(
                    "A JSON Web Key Set.",
                    JWKS_ANSWER,
                    CACHE_CONTROL,
                ),
                **refusals(),
            },
        }
    },
    "/v1/consume": {
        "post": {
            "tags": ["sdk"],
            "security": SDK_SECURITY,
            "parameters": [IDEMPOTENCY_KEY, PREFER, REGION_HEADER],
            "requestBody": json_body(CONSUME_BODY),
            # 404: an `action_id` that names no action of this tenant (redeeming an approved action)
            "responses": {"200": answer("Charged.", CONSUME_ANSWER), **refusals(400, 401, 402, 403, 404, 409, 422)},
        }
    },
    "/v1/leases": {
        "post": {
            "tags": ["sdk"],
            "security": SDK_SECURITY,
            "parameters": [IDEMPOTENCY_KEY, REGION_HEADER],
            "requestBody": json_body(LEASE_BODY),
            "responses": {"201": answer("The open lease.", LEASE_ANSWER), **refusals(400, 401, 402, 403, 409, 422)},
        }
    },
    "/v1/leases/{lease_id}/heartbeat": {
        "post": {
            "tags": ["sdk"],
            "security": SDK_SECURITY,
            "parameters": [path_id("lease_id"), REGION_HEADER],
            "requestBody": json_body(HEARTBEAT_BODY, required=False),
            "responses": {"200": answer("The lease.", LEASE_ANSWER), **refusals(400, 401, 402, 403, 404, 409, 422)},
        }
    },
    "/v1/allowances": {
        "post": {
            "tags": ["sdk"],
            "security": SDK_SECURITY,
            "parameters": [IDEMPOTENCY_KEY, REGION_HEADER],
            "requestBody": json_body(ALLOWANCE_BODY),
            "responses": {
                "201": answer("The open allowance.", ALLOWANCE_ANSWER),
                **refusals(400, 401, 402, 403, 409, 422),
            },
        }
    },
    "/v1/allowances/{allowance_id}/settle": {
        "post": {
            "tags": ["sdk"],
            "security": SDK_SECURITY,
            "parameters": [path_id("allowance_id"), REGION_HEADER],
            "requestBody": json_body(SETTLE_BODY),
            "responses": {
                "200": answer("The allowance.", ALLOWANCE_ANSWER),
                **refusals(400, 401, 402, 403, 404, 409, 422),
            },
        }
    },
    "/v1/leases/{lease_id}": {
        "delete": {
            "tags": ["sdk"],
            "security": SDK_SECURITY,
            "parameters": [path_id("lease_id"), REGION_HEADER],
            "responses": {"200": answer("The settled lease.", LEASE_ANSWER), **refusals(401, 403, 404, 409, 422)},
        }
    },
}
