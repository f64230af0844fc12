"""A property (hypothesis): whatever body, headers, path id and query string a caller sends, to any route of
``template.yaml``, no answer is a 5xx, and an answer that refuses bad input changes nothing in the table
(SPEC.md, "Bad input, concretely"; invariant 8).

The real handlers run in process with API Gateway payload-2.0 events, routed as the HTTP API routes them
(the local gateway's router over the template: a method or path no route serves goes to ``$default``), on
moto. Some cases authenticate as a real tenant (owner API key, license key) so the handlers get past auth.
``TOLLGATE_PROPERTY_EXAMPLES`` sets the examples per route (default 100).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import ModuleType
from typing import Any

import botocore.client
import botocore.exceptions
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.local.gateway import HttpRequest, Router, build_event
from infra.local.stripe_standin import StandinServer, start_standin
from infra.local.template import HttpRoute, load_template
from tests.conftest import ROOT, TEMPLATE
from tests.unit.conftest import FakePayments
from tests.unit.licensing import signing_key_pem
from tollgate import services
from tollgate.core.clock import SYSTEM_CLOCK
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Feature, Principal, TokenPack
from tollgate.core.roles import Role
from tollgate.keys.service import NewLicenseKey
from tollgate.tenancy.service import SignupRequest, TenantService

os.environ.setdefault("RECEIPT_SIGNING_KEY", signing_key_pem())
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
EXAMPLES = int(os.environ.get("TOLLGATE_PROPERTY_EXAMPLES", "100"))
WEBHOOK_SECRET = "whsec_property"
# A refusal of bad input changes nothing. 402 and 409 are answers to well-formed requests (an idempotent
# answer may be recorded with them), so they are not held to it.
BAD_INPUT_STATUSES = {400, 401, 403, 404, 405, 413, 415, 422}

TEMPLATE_INFO = load_template(TEMPLATE, table_name=os.environ["TABLE_NAME"])
ROUTER = Router(TEMPLATE_INFO.routes)
HTTP_ROUTES = sorted({(r.method, r.path) for r in TEMPLATE_INFO.routes if r.path != "$default"})
ID_KINDS = {
    "/v1/api-keys/": "ak",
    "/v1/purchases/": "pu",
    "/v1/projects/": "pj",
    "/v1/keys/": "lk",
    "/v1/leases/": "lease",
    "/v1/allowances/": "al",
    "/v1/alerts/": "alr",
    "/v1/actions/": "act",
    "/v1/webhook-endpoints/": "we",
}

# Routes whose handlers another issue is rewriting on pydantic models (functions/portal, functions/signup):
# none is known to answer 5xx today; if one does, list its route here with the reason, xfail(strict=True).
KNOWN_5XX: dict[tuple[str, str], str] = {}


@dataclass
class Context:
    """Lambda's context object, as Powertools reads it."""

    function_name: str = "tollgate-test"
    memory_limit_in_mb: str = "512"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:tollgate-test"
    aws_request_id: str = "req-property"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class Tenant:
    owner: str
    license_key: str
    ids: dict[str, list[str]]  # real ids of each kind, so some requests get past the lookup


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    server = start_standin(0, None, WEBHOOK_SECRET)
    yield server
    server.stop()


def _load(function_id: str) -> ModuleType:
    spec = TEMPLATE_INFO.functions[function_id]
    name = f"property_{function_id}"
    module_spec = importlib.util.spec_from_file_location(name, spec.code_uri / "app.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_real_call = botocore.client.BaseClient._make_api_call


class WriteWatch:
    """Takes a snapshot of the table just before the first write request of a call, if there is one: a call
    that sends no write changes nothing, and one that does is compared with the snapshot afterwards."""

    def __init__(self, client: Any, table: str) -> None:
        self._client, self._table = client, table
        self.before: list[str] | None = None

    def reset(self) -> None:
        self.before = None

    def snapshot(self) -> list[str]:
        items: list[dict[str, Any]] = []
        for page in self._client.get_paginator("scan").paginate(TableName=self._table):
            items.extend(page["Items"])
        return sorted(json.dumps(item, sort_keys=True) for item in items)

    def intercept(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        _refuse_what_dynamodb_refuses(operation, params)
        if operation in WRITES and self.before is None:
            self.before = self.snapshot()
        return _real_call(client, operation, params)


KEY_LIMITS = {"pk": 2048, "sk": 1024}  # bytes; DynamoDB refuses longer (or empty) key values, moto does not


def _dynamodb_number(text: str) -> bool:
    """Up to 38 significant digits, magnitude from 1E-130 to under 1E+126 (or zero)."""
    number = Decimal(text)
    return number == 0 or (
        len(number.normalize().as_tuple().digits) <= 38 and Decimal("1E-130") <= abs(number) < Decimal("1E+126")
    )


def _refuse_what_dynamodb_refuses(operation: str, value: Any) -> None:
    """Key values over DynamoDB's sizes and numbers of more than 38 significant digits: DynamoDB refuses
    them with a ValidationException (which the service answers 500 for); moto lets them through."""
    if isinstance(value, dict):
        number = value.get("N")
        if isinstance(number, str) and not _dynamodb_number(number):
            error = {"Error": {"Code": "ValidationException", "Message": "Number overflow"}}
            raise botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]
        for name, child in value.items():
            limit = KEY_LIMITS.get(name)
            key = child.get("S") if limit and isinstance(child, dict) else None
            if isinstance(key, str) and (key == "" or len(key.encode("utf-8", "replace")) > limit):
                error = {"Error": {"Code": "ValidationException", "Message": f"{name} is too long"}}
                raise botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]
            _refuse_what_dynamodb_refuses(operation, child)
    elif isinstance(value, list):
        for child in value:
            _refuse_what_dynamodb_refuses(operation, child)


@dataclass
class World:
    tenant: Tenant
    handlers: dict[str, ModuleType]
    watch: WriteWatch


@pytest.fixture(scope="module")
def world(standin: StandinServer) -> Iterator[World]:
    """One table, one tenant and the real handlers for every route (set up once: about 10 s)."""
    import boto3
    from moto import mock_aws

    from infra.local.tables import create_table

    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        client = boto3.Session().client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, os.environ["TABLE_NAME"], TEMPLATE)
        tenant = _tenant(standin, monkeypatch)
        handlers = {fid: _load(fid) for fid in {r.function_id for r in TEMPLATE_INFO.routes}}
        watch = WriteWatch(client, os.environ["TABLE_NAME"])
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lambda *args: watch.intercept(*args))
        yield World(tenant, handlers, watch)
        for fid in handlers:
            sys.modules.pop(f"property_{fid}", None)


def _tenant(standin: StandinServer, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    import stripe

    from tollgate.kernel.items import TenantItem
    from tollgate.purchases.service import PurchaseService
    from tollgate.purchases.store import DynamoPurchaseRepository
    from tollgate.purchases.store_topup import DynamoTopUpRepository
    from tollgate.purchases.stripe_checkout import StripeCheckout
    from tollgate.purchases.stripe_topup import StripeTopUps
    from tollgate.purchases.stripe_webhooks import StripeWebhookVerifier
    from tollgate.tenancy.store import DynamoTenantRepository
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    client = stripe.StripeClient("sk_test_property", base_addresses={"api": standin.url})
    tenants = TenantService(DynamoTenantRepository(), FakePayments(), SYSTEM_CLOCK, RANDOM_IDS, lambda: "pepper")
    purchases = PurchaseService(
        purchases=DynamoPurchaseRepository(),
        catalog=services.catalog(),
        projects=DynamoProjectRepository(),
        checkout=StripeCheckout(client),
        verifier=StripeWebhookVerifier(lambda: [WEBHOOK_SECRET]),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        portal_base_url=lambda: "https://portal.test",
        topup_settings=DynamoTopUpRepository(),
        cards=StripeTopUps(client),
    )
    monkeypatch.setattr(services, "tenant_service", lambda: tenants)
    monkeypatch.setattr(services, "purchase_service", lambda: purchases)

    catalog = services.catalog()
    catalog.put_feature(Feature("build", cost_per_use=1, cost_per_hour=10))
    catalog.put_pack(TokenPack("starter", 1000, 1000, "usd", 365, "Starter"))
    issued = tenants.sign_up(SignupRequest("Acme", "ops@acme.example", "eu-west-1"), None).owner_key
    owner: Principal = tenants.authenticate(issued.secret)
    customer = client.v1.customers.create(params={"email": "ops@acme.example"})
    TenantItem(f"T#{owner.tenant_id}", "TENANT").update(actions=[TenantItem.stripe_customer_id.set(customer.id)])
    owner = tenants.authenticate(issued.secret)
    services.pool_service().grant(owner.tenant_id, 1000, "property test", "operator:test")
    project = services.project_service().create(owner, "farm", 500)
    key = services.license_key_service().issue(owner, NewLicenseKey("ci", (os.environ["AWS_REGION"],)))
    member = tenants.create_api_key(owner, "member", Role.MEMBER)
    sdk_caller = services.license_key_service().authenticate(key.secret)
    _, lease = services.lease_service().open(sdk_caller, "build", 600, "lease-1")
    purchase = purchases.create(owner, "starter", 1, None, None, "purchase-1")
    _, allowance = services.allowance_service().open(sdk_caller, "build", 100, 600, "allowance-1")
    ids = {"ak": [member.key.id], "pj": [project.id], "lk": [key.key.id], "lease": [lease.id], "pu": [purchase.id]}
    ids["al"] = [allowance.id]
    ids["alr"] = [services.alert_service().create(owner, "balance_below", 100, None).id]
    from tollgate.approvals.service import Ask

    _, action = services.action_service().request(sdk_caller, Ask("run", feature="build", quantity=1), "action-1")
    ids["act"] = [action.id]
    endpoint = services.webhook_endpoint_service().create(owner, "https://hooks.example.com/t", ["*"], None)
    ids["we"] = [endpoint.endpoint.id]
    return Tenant(owner=issued.secret, license_key=key.secret, ids=ids)


# ------------------------------------------------------------------------------------------ strategies

FIELDS = [
    "name", "email", "home_region", "role", "budget", "features", "regions", "project_id", "environment",
    "expires_at", "pack_id", "quantity", "po_number", "feature", "duration_s", "extend_s", "region",
    "fingerprint", "project", "action", "action_id", "decision", "comment", "attributes", "break_glass",
]  # fmt: skip
NASTY_TEXT = st.sampled_from(
    ["", " ", "\x00", "\ud800", "\udfff x", "a\u2028b", "\x1b[31m", "build", "starter", "eu-west-1", "member",
     "owner", "us-east-1", "x" * 300, "9999-12-31T23:59:59-23:59", "1e999", "²", "ops@acme.example",
     "pj_0000000000000000"]
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([0, 1, 10**15, 10**15 + 1, 10**200, -1, 2**63, 3650, 3651, 86_400, 86_401]),
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=40), NASTY_TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
VALUES = st.one_of(SCALARS, st.lists(st.one_of(NASTY_TEXT, SCALARS), max_size=3))
PLAUSIBLE = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=5)
# The fields each route reads, so that many bodies are well-formed enough to reach the domain and the store.
ROUTE_FIELDS = {
    ("POST", "/v1/tenants"): ["name", "email", "home_region"],
    ("POST", "/v1/api-keys"): ["name", "role"],
    ("POST", "/v1/purchases"): ["pack_id", "quantity", "po_number", "project_id"],
    ("POST", "/v1/projects"): ["name", "budget"],
    ("PATCH", "/v1/projects/{id}"): ["name", "budget"],
    ("POST", "/v1/keys"): ["name", "regions", "features", "project_id", "environment", "expires_at"],
    ("POST", "/v1/validate"): ["feature", "region", "fingerprint", "project"],
    ("POST", "/v1/consume"): ["feature", "quantity"],
    ("POST", "/v1/leases"): ["feature", "duration_s"],
    ("POST", "/v1/leases/{id}/heartbeat"): ["extend_s"],
    ("POST", "/v1/allowances"): ["feature", "tokens", "ttl_s"],
    ("POST", "/v1/allowances/{id}/settle"): ["used", "final", "renew"],
    ("POST", "/v1/alerts"): ["kind", "threshold", "project_id"],
}


def route_bodies(route: tuple[str, str]) -> st.SearchStrategy[str]:
    fields = ROUTE_FIELDS.get(route)
    if not fields:
        return BODIES
    shaped = st.fixed_dictionaries({}, optional=dict.fromkeys(fields, VALUES)).map(lambda v: json.dumps(v))
    return st.one_of(BODIES, shaped, shaped)


RAW_BODIES = st.sampled_from(
    [
        "[" * 5000 + "]" * 5000,
        '{"a":' * 40 + "1" + "}" * 40,
        '{"name": "a", "name": "b"}',
        '{"feature": "\\ud800", "quantity": 1}',
        '{"quantity": 1e999, "feature": "build"}',
        '{"quantity": NaN}',
        '{"quantity": ' + "9" * 400 + "}",
        '{"budget": 1' + "0" * 200 + ', "name": "x"}',
        "not json",
        "\xff\xfe",
        "",
    ]
)
BODIES = st.one_of(
    st.none(),
    RAW_BODIES,
    JSON.map(lambda v: json.dumps(v)),
    PLAUSIBLE.map(lambda v: json.dumps(v)),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)


@st.composite
def headers(draw: st.DrawFn, tenant: Tenant) -> dict[str, str]:
    sent: dict[str, str] = {}
    auth = draw(st.sampled_from(["owner", "license", "none", "garbage", "owner", "license", "owner", "license"]))
    if auth == "owner":
        sent["authorization"] = f"Bearer {tenant.owner}"
    elif auth == "license":
        sent["authorization"] = f"Bearer {tenant.license_key}"
    elif auth == "garbage":
        sent["authorization"] = draw(st.one_of(st.text(max_size=80), NASTY_TEXT, st.just("Bearer tg_" + "a" * 2000)))
    idem = draw(st.one_of(st.none(), st.uuids().map(str), st.text(max_size=300), NASTY_TEXT))
    if idem is not None:
        sent["idempotency-key"] = idem
    content_type = draw(st.sampled_from([None, "application/json", "text/plain", "application/x-www-form", "\ud800"]))
    if content_type is not None:
        sent["content-type"] = content_type
    if draw(st.booleans()):
        sent["x-tollgate-region"] = draw(st.one_of(st.text(max_size=20), NASTY_TEXT))
    if draw(st.booleans()):
        sent["prefer"] = draw(st.sampled_from(["return=minimal", "\ud800", "return=representation"]))
    if draw(st.booleans()):
        sent["stripe-signature"] = draw(st.one_of(st.text(max_size=60), st.just("t=1,v1=00")))
    return sent


def path_for(draw: st.DrawFn, template: str, tenant: Tenant) -> str:
    if "{id}" not in template:
        return template
    kind = next(k for prefix, k in ID_KINDS.items() if template.startswith(prefix))
    value = draw(
        st.one_of(
            st.sampled_from(tenant.ids[kind]),
            st.builds(lambda: RANDOM_IDS.new_id(kind)),
            st.text(min_size=1, max_size=60).filter(lambda t: "/" not in t),
            st.just("x" * 2000),
            NASTY_TEXT.filter(lambda t: t and "/" not in t),
        )
    )
    return template.replace("{id}", value)


QUERY = st.dictionaries(
    st.sampled_from(["limit", "cursor", "x", "from", "to", "granularity", "group_by"]),
    st.one_of(
        st.text(max_size=30),
        NASTY_TEXT,
        st.sampled_from(["1", "200", "201", "0", "²", "eyJzayI6IiJ9", "2026-11-30", "2026-02-30", "0001-01-01"]),
        st.sampled_from(["month", "day", "feature,key", "project,project", "9999-12-31"]),
    ),
    max_size=2,
)


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    base64: bool
    query: dict[str, str]


@st.composite
def calls(draw: st.DrawFn, tenant: Tenant, route: tuple[str, str]) -> Call:
    method, template = route
    if draw(st.integers(0, 9)) == 0:  # now and then, a method the path does not have
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    return Call(
        method=method,
        path=path_for(draw, template, tenant),
        headers=draw(headers(tenant)),
        body=draw(route_bodies(route)),
        base64=draw(st.integers(0, 9)) == 0,
        query=draw(QUERY),
    )


def event_for(call: Call) -> tuple[str, dict[str, Any]]:
    """The function the HTTP API would invoke, and the payload-2.0 event it would get."""
    match = ROUTER.match(call.method, call.path)
    assert match is not None  # the template has a $default route
    request = HttpRequest(method=call.method, raw_path=call.path, raw_query="")
    event = build_event(request, match, request_id="req-property", time_epoch_ms=1_800_000_000_000, server_port=3000)
    event["headers"].update(call.headers)  # as sent, surrogates and all: in process anything can arrive
    if call.query:
        event["queryStringParameters"] = dict(call.query)
    if call.body is not None:
        if call.base64:
            event["body"], event["isBase64Encoded"] = call.body, True  # often not valid base64
        else:
            event["body"], event["isBase64Encoded"] = call.body, False
    return match.route.function_id, event


def check(world: World, call: Call) -> None:
    function_id, event = event_for(call)
    world.watch.reset()
    answer = world.handlers[function_id].handler(event, Context())
    status = int(answer["statusCode"])
    assert status < 500, (call, answer.get("body"))
    if status >= 400:
        body = json.loads(answer["body"])
        assert set(body) == {"error"} and body["error"]["code"], (call, body)
    if status in BAD_INPUT_STATUSES and world.watch.before is not None:
        assert world.watch.snapshot() == world.watch.before, (call, answer.get("body"))


def _route_param(route: tuple[str, str]) -> Any:
    marks = [pytest.mark.xfail(reason=KNOWN_5XX[route], strict=True)] if route in KNOWN_5XX else []
    return pytest.param(route, id=f"{route[0]} {route[1]}", marks=marks)


@pytest.mark.parametrize("route", [_route_param(r) for r in HTTP_ROUTES])
def test_no_route_answers_5xx_and_bad_input_changes_nothing(world: World, route: tuple[str, str]) -> None:
    tenant = world.tenant

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(call=calls(tenant, route))
    def run(call: Call) -> None:
        check(world, call)

    run()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
    path=st.one_of(
        st.text(max_size=40).map(lambda t: "/" + t),
        st.sampled_from(["/", "/v1", "/v1/", "/v1/tenant/", "/v1/keys//rotate", "/v1/leases/x/y/z", "/v2/tenant"]),
    ),
)
def test_unknown_paths_and_methods_answer_in_the_envelope(world: World, method: str, path: str) -> None:
    tenant = world.tenant
    check(world, Call(method, path, {"authorization": f"Bearer {tenant.owner}"}, None, False, {}))


def test_the_fallback_route_is_what_unmatched_requests_reach() -> None:
    match = ROUTER.match("DELETE", "/v1/tenant")
    assert match is not None and match.route == HttpRoute("FallbackFunction", "Default", "ANY", "$default")


# ------------------------------------------------------------------------- the Content-Type rule (415)

OPENAPI = json.loads((ROOT / "shared/tollgate/edge/contract/openapi.json").read_text())
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _template_path(openapi_path: str) -> str:
    """The path as template.yaml writes it: any ``{name}`` is one path parameter."""
    shape = re.sub(r"\{[^}]+\}", "{}", openapi_path)
    served = [path for _, path in HTTP_ROUTES if re.sub(r"\{[^}]+\}", "{}", path) == shape]
    return served[0] if served else openapi_path


# Every operation of the contract that can carry a body (SPEC.md: a body whose Content-Type is not JSON on
# a JSON route is a 415): taken from the published document, so a new route is covered without listing it.
JSON_ROUTES = sorted(
    (method.upper(), _template_path(path))
    for path, operations in OPENAPI["paths"].items()
    for method in operations
    if method.upper() in BODY_METHODS
)
FORM_FIELDS = st.dictionaries(
    st.sampled_from([*FIELDS, "default_effect", "rules", "budget", "url", "events", "kind", "threshold"]),
    st.sampled_from(["deny", "allow", "1", "100", "x", "build", "[]", "*", "https://hooks.example.com/x"]),
    max_size=4,
)


def _multipart(fields: dict[str, str], boundary: str = "tollgateboundary") -> str:
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return "".join(parts) + f"--{boundary}--\r\n"


@st.composite
def non_json_calls(draw: st.DrawFn, tenant: Tenant, route: tuple[str, str]) -> Call:
    """A request to ``route`` whose body is of another media type, or declares none; authenticated as a
    caller who may use the route, so that nothing but the media type stands in the way."""
    fields = draw(FORM_FIELDS)
    kind = draw(st.sampled_from(["multipart", "form", "text", "none", "xml", "json-text", "charset"]))
    body: str | None = json.dumps(fields)
    content_type: str | None
    if kind == "multipart":
        boundary = draw(st.sampled_from(["tollgateboundary", "x"]))
        content_type = f"multipart/form-data; boundary={boundary}"
        body = draw(st.sampled_from([_multipart(fields, boundary), ""]))
    elif kind == "form":
        content_type, body = "application/x-www-form-urlencoded", "&".join(f"{k}={v}" for k, v in fields.items())
    elif kind == "text":
        content_type = draw(st.sampled_from(["text/plain", "text/json", "TEXT/PLAIN; charset=utf-8"]))
    elif kind == "none":
        content_type, body = None, draw(st.sampled_from([body, "{}", "x=1"]))
    elif kind == "xml":
        content_type, body = "application/xml", "<policy><default_effect>deny</default_effect></policy>"
    elif kind == "charset":
        content_type = "application/json; charset=utf-16"
    else:
        content_type = draw(st.sampled_from(["application/jsonx", "application/json-patch", "json", "*/*"]))
    auth = draw(st.sampled_from([tenant.owner, tenant.license_key]))
    headers = {"authorization": f"Bearer {auth}", "idempotency-key": str(uuid.uuid4()), "if-match": '"0"'}
    if content_type is not None:
        headers["content-type"] = content_type
    known = any(route[1].startswith(prefix) for prefix in ID_KINDS)
    path = path_for(draw, route[1], tenant) if known else re.sub(r"\{[^}]+\}", "x1", route[1])
    return Call(route[0], path, headers, body, False, {})


@pytest.mark.parametrize("route", [pytest.param(r, id=f"{r[0]} {r[1]}") for r in JSON_ROUTES])
def test_every_json_route_refuses_a_non_json_body_with_415_and_changes_nothing(
    world: World, route: tuple[str, str]
) -> None:
    assert route in set(HTTP_ROUTES), f"{route} is in the contract but no route of template.yaml serves it"

    @settings(max_examples=max(10, EXAMPLES // 4), deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
    @given(call=non_json_calls(world.tenant, route))
    def run(call: Call) -> None:
        function_id, event = event_for(call)
        world.watch.reset()
        answer = world.handlers[function_id].handler(event, Context())
        assert int(answer["statusCode"]) == 415, (call, answer.get("body"))
        assert json.loads(answer["body"])["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert world.watch.before is None, call  # no write request was even sent

    run()
