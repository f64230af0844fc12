"""The SDK routes keep their small hand parsers (cold start); their contract is declared as plain data
(``tollgate.edge.contract.sdk``). These tests derive boundary requests from the declaration and run them
through the real parsers: whatever the declaration allows is accepted, whatever it forbids is refused with
a 422 naming the field (or 400 for the body as a whole). A bound changed on one side only fails here."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.unit.handlers import call, load_function
from tests.unit.licensing import signing_key_pem
from tollgate import services
from tollgate.core import limits
from tollgate.core.errors import InvalidField, MalformedRequest, RateLimited
from tollgate.core.models import Principal, Tenant, TenantStatus
from tollgate.core.roles import Role
from tollgate.edge.contract import sdk
from tollgate.keys import routes_validation

os.environ.setdefault("RECEIPT_SIGNING_KEY", signing_key_pem())

Case = tuple[str, dict[str, Any], str | None]  # (what, body, refused field or None when accepted)


def sample(schema: dict[str, Any], length: int | None = None) -> Any:
    """A value the schema allows; strings of ``length`` characters when given."""
    if schema["type"] == "integer":
        return schema["minimum"]
    if schema["type"] == "boolean":
        return False
    size = length or schema.get("minLength", 1)
    if schema.get("pattern") == limits.REGION_PATTERN:
        return "eu-" + "a" * (size - 5) + "-1"
    return "a" * size


def non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its ``null`` alternative (optional fields may be sent as null)."""
    options = [option for option in schema.get("anyOf", [schema]) if option != {"type": "null"}]
    assert len(options) == 1
    return options[0]


def cases(body_schema: dict[str, Any]) -> Iterator[Case]:
    properties = {name: non_null(schema) for name, schema in body_schema["properties"].items()}
    required = body_schema.get("required", [])
    base = {name: sample(properties[name]) for name in required}
    yield "the smallest valid body", base, None
    yield "an unknown field", {**base, "zzz": 1}, "zzz"
    for name in required:
        yield f"{name} missing", {k: v for k, v in base.items() if k != name}, name
    for name in properties:
        nullable = "anyOf" in body_schema["properties"][name]
        assert nullable is (name not in required), name  # optional fields are declared nullable, required not
        yield f"{name} null", {**base, name: None}, None if nullable else name
    for name, schema in properties.items():
        if schema["type"] == "string":
            yield f"{name} at maxLength", {**base, name: sample(schema, schema["maxLength"])}, None
            yield f"{name} past maxLength", {**base, name: sample(schema, schema["maxLength"] + 1)}, name
            yield f"{name} empty", {**base, name: ""}, name
            yield f"{name} blank", {**base, name: "   "}, name
            yield f"{name} with a control character", {**base, name: "a\x07b"}, name
            yield f"{name} a number", {**base, name: 7}, name
        elif schema["type"] == "boolean":
            yield f"{name} true", {**base, name: True}, None
            yield f"{name} false", {**base, name: False}, None
            yield f"{name} a string", {**base, name: "true"}, name
            yield f"{name} a number", {**base, name: 1}, name
        else:
            yield f"{name} at minimum", {**base, name: schema["minimum"]}, None
            yield f"{name} at maximum", {**base, name: schema["maximum"]}, None
            yield f"{name} below minimum", {**base, name: schema["minimum"] - 1}, name
            yield f"{name} above maximum", {**base, name: schema["maximum"] + 1}, name
            yield f"{name} a string", {**base, name: str(schema["minimum"])}, name
            yield f"{name} a boolean", {**base, name: True}, name
            yield f"{name} a fraction", {**base, name: schema["minimum"] + 0.5}, name
            yield f"{name} an integral float", {**base, name: float(schema["minimum"])}, None


def body_schema(path: str, method: str = "post") -> dict[str, Any]:
    return dict(sdk.PATHS[path][method]["requestBody"]["content"]["application/json"]["schema"])


# ------------------------------------------------------------------------------------------ validate


@pytest.fixture
def validate_app(table: str) -> ModuleType:
    load_function("validate")
    return routes_validation  # the function's handler and its parser


@pytest.mark.parametrize(("what", "body", "refused"), list(cases(body_schema("/v1/validate"))))
def test_validate_parser_agrees_with_its_declaration(
    validate_app: ModuleType, what: str, body: dict[str, Any], refused: str | None
) -> None:
    event = {"body": json.dumps(body), "isBase64Encoded": False, "headers": {}}
    if refused is None:
        validate_app._request(event)
        return
    with pytest.raises(InvalidField) as error:
        validate_app._request(event)
    assert error.value.field == refused, what


def test_validate_body_is_optional_as_declared(validate_app: ModuleType) -> None:
    assert sdk.PATHS["/v1/validate"]["post"]["requestBody"]["required"] is False
    validate_app._request({"headers": {}})
    with pytest.raises(MalformedRequest):
        validate_app._request({"body": "[]", "headers": {}})


# ------------------------------------------------------------------------------------------ usage


class Reached(RateLimited):
    """The request got past the parser to the service: the parser accepted it (answered as a 429 with
    this code, which no parser gives)."""

    code = "REACHED_THE_SERVICE"


@pytest.fixture
def usage_app(table: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_function("usage")
    tenant = Tenant("tn_0000000000000000", "Acme", "ops@acme.example", "eu-west-1", TenantStatus.ACTIVE, 1)
    caller = Principal(tenant=tenant, key_id="ak_0000000000000000", role=Role.OWNER)
    every = {
        "api_key": lambda *_: caller,
        "license_key": lambda *_: caller,
        "license_key_to_wind_down": lambda *_: caller,
    }
    credentials = type("Credentials", (), every)()
    monkeypatch.setattr(services, "credentials", lambda: credentials)

    def reached(*_: Any, **__: Any) -> Any:
        raise Reached("reached")

    methods = {
        "consume": reached,
        "open": reached,
        "heartbeat": reached,
        "close": reached,
        "settle": reached,
        "redeem": reached,
    }
    service = type("Service", (), methods)()
    for name in ("pool_service", "lease_service", "allowance_service", "action_service"):
        monkeypatch.setattr(services, name, lambda: service)
    return module


def through(module: ModuleType, path: str, body: dict[str, Any]) -> Callable[[], tuple[int, Any, Any]]:
    headers = {"Idempotency-Key": "k-1", "Authorization": "Bearer tgk_x"}
    return lambda: call(module, "POST", path, body, headers=headers)


USAGE_ROUTES = {
    "/v1/allowances": "/v1/allowances",
    "/v1/allowances/{allowance_id}/settle": "/v1/allowances/al_1/settle",
    "/v1/consume": "/v1/consume",
    "/v1/leases": "/v1/leases",
    "/v1/leases/{lease_id}/heartbeat": "/v1/leases/ls_1/heartbeat",
}


@pytest.mark.parametrize(
    ("route", "what", "body", "refused"),
    [(route, *case) for route in USAGE_ROUTES for case in cases(body_schema(route))],
)
def test_usage_parsers_agree_with_their_declaration(
    usage_app: ModuleType, route: str, what: str, body: dict[str, Any], refused: str | None
) -> None:
    status, answer, _ = through(usage_app, USAGE_ROUTES[route], body)()
    if refused is None:
        assert answer["error"]["code"] == Reached.code, (what, answer)
        return
    assert (status, answer["error"]["field"]) == (422, refused), what


@pytest.mark.parametrize("route", ["/v1/consume", "/v1/leases", "/v1/allowances"])
def test_idempotency_key_is_required_as_declared(usage_app: ModuleType, route: str) -> None:
    declared = {p["name"]: p for p in sdk.PATHS[route]["post"]["parameters"]}
    assert declared["Idempotency-Key"]["required"] is True
    body = {name: sample(body_schema(route)["properties"][name]) for name in body_schema(route)["required"]}
    status, answer, _ = call(usage_app, "POST", route, body, headers={"Authorization": "Bearer tgk_x"})
    assert (status, answer["error"]["field"]) == (422, "Idempotency-Key")
    too_long = {"Authorization": "Bearer tgk_x", "Idempotency-Key": "k" * (limits.IDEMPOTENCY_KEY_MAX + 1)}
    status, answer, _ = call(usage_app, "POST", route, body, headers=too_long)
    assert (status, answer["error"]["field"]) == (422, "Idempotency-Key")


@pytest.mark.parametrize("route", list(USAGE_ROUTES))
def test_usage_examples_pass_their_parsers(usage_app: ModuleType, route: str) -> None:
    """The example body the document shows (Swagger UI's default) is one the parser accepts."""
    [example] = body_schema(route)["examples"]
    _, answer, _ = through(usage_app, USAGE_ROUTES[route], example)()
    assert answer["error"]["code"] == Reached.code, answer


def test_validate_example_passes_its_parser(validate_app: ModuleType) -> None:
    [example] = body_schema("/v1/validate")["examples"]
    validate_app._request({"body": json.dumps(example), "isBase64Encoded": False, "headers": {}})


@pytest.mark.parametrize("region", ["", "eu", "aa-" + "a" * 40 + "-1", "EU-WEST-1", "eu-west-1 "])
@pytest.mark.parametrize("route", ["/v1/consume", "/v1/leases/ls_1/heartbeat", "/v1/allowances/al_1/settle"])
def test_a_region_header_of_another_shape_is_422_as_declared(usage_app: ModuleType, route: str, region: str) -> None:
    """X-Tollgate-Region is declared an AWS region name; any other value is refused, naming the header (on a
    winding-down route too), in words, not as the pattern."""
    headers = {"Idempotency-Key": "k-1", "Authorization": "Bearer tgk_x", "X-Tollgate-Region": region}
    status, answer, _ = call(usage_app, "POST", route, {"used": 0} if "settle" in route else {}, headers=headers)
    assert (status, answer["error"]["field"]) == (422, "X-Tollgate-Region")
    assert answer["error"]["message"].endswith("must be an AWS region name, such as eu-west-1")
    ok = {**headers, "X-Tollgate-Region": "eu-west-1"}
    _, answer, _ = call(usage_app, "POST", route, {"used": 0} if "settle" in route else {}, headers=ok)
    assert answer["error"].get("field") != "X-Tollgate-Region"
