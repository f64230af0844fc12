"""Routers per capability: every route of every HTTP function states who may call it where it is registered
(a permission, or explicitly public), the gate enforces it before the route runs, a route that states
nothing cannot be registered, and the edge and the capabilities are handed their services instead of
importing the composition root."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.local.template import load_template
from tests.conftest import ROOT, TEMPLATE
from tests.unit.handlers import Context, event, load_function
from tollgate.core.errors import Unauthenticated
from tollgate.core.models import Principal, Tenant, TenantStatus
from tollgate.core.records import LicenseKey
from tollgate.core.roles import Permission, Role
from tollgate.edge.auth import Credential
from tollgate.edge.routing import PUBLIC, RESOURCE, CapabilityRouter, Gate, gate_of, principal

TENANT = Tenant("tn_0000000000000000", "Acme", "ops@acme.example", "eu-west-1", TenantStatus.ACTIVE, 1_800_000_000)
# The routes anyone may call without a credential (validate's two are served outside Powertools, and public
# by their nature: the license key is what they check).
PUBLIC_ROUTES = {("POST", "/v1/tenants"), ("GET", "/v1/openapi.json"), ("POST", "/v1/stripe/webhook")}
HAND_PARSED = {"validate", "fallback"}  # no Powertools resolver: nothing to register (test_validation covers them)


def _served() -> dict[str, set[tuple[str, str]]]:
    """function directory → its routes in template.yaml, ``{}`` for a path parameter."""
    served: dict[str, set[tuple[str, str]]] = {}
    for spec in load_template(TEMPLATE).functions.values():
        name = spec.code_uri.name
        for route in spec.routes:
            if route.path != "$default" and name not in HAND_PARSED:
                served.setdefault(name, set()).add((route.method, re.sub(r"\{[^}]+\}", "{}", route.path)))
    return served


SERVED = _served()


def _gates(name: str) -> dict[tuple[str, str], Gate | None]:
    app = load_function(name).app
    return {
        (route.method, re.sub(r"<[^>]+>", "{}", route.path)): gate_of(route.middlewares)
        for route in app._static_routes + app._dynamic_routes
    }


@pytest.mark.parametrize("name", sorted(SERVED))
def test_every_route_of_every_function_states_who_may_call_it(name: str) -> None:
    gates = _gates(name)
    assert set(gates) == SERVED[name], "the function registers exactly the routes template.yaml sends it"
    for route, gate in gates.items():
        assert gate is not None, route
        assert isinstance(gate.access, Permission) or gate.access in (PUBLIC, RESOURCE), route
        assert (gate.access is PUBLIC) == (route in PUBLIC_ROUTES), route


def test_the_published_security_follows_each_routes_credential() -> None:
    from tollgate.edge.contract.published import PUBLISHED

    document = json.loads(PUBLISHED.read_text())
    for name in ("portal", "signup", "approvals"):
        for (method, path), gate in _gates(name).items():
            assert gate is not None
            operation = _by_shape(document, method, path)
            schemes = {scheme for requirement in operation.get("security") or [] for scheme in requirement}
            if gate.access is PUBLIC:
                assert schemes == set(), (method, path)
            elif gate.credential is Credential.API_KEY or path.endswith("/reviews"):
                assert schemes == {"apiKey"}, (method, path)
            else:
                assert schemes == {"apiKey", "licenseKey"}, (method, path)


def _by_shape(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for documented, item in document["paths"].items():
        if re.sub(r"\{[^}]+\}", "{}", documented) == path and method.lower() in item:
            return dict(item[method.lower()])
    raise AssertionError(f"{method} {path} is not documented")


# ------------------------------------------------------------------------------------------- fail closed


def _logger() -> Any:
    from tollgate.core.logs import get_logger

    return get_logger()


def test_a_route_that_states_nothing_cannot_be_registered() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import Router

    from tollgate.edge.app import build_resolver

    app = build_resolver(_logger())
    with pytest.raises(TypeError, match="states no access"):
        app.get("/v1/balance")(lambda: {})
    plain = Router()
    plain.get("/v1/ledger")(lambda: {})
    with pytest.raises(TypeError, match="states no access"):
        app.include_router(plain)
    with pytest.raises(TypeError):
        CapabilityRouter().get("/v1/balance")  # type: ignore[call-arg]  # the permission is a required keyword


class Credentials:
    """Authenticates every credential as ``caller``, or refuses any as Unauthenticated."""

    def __init__(self, caller: Principal | None) -> None:
        self.caller = caller
        self.asked: list[tuple[str, bool]] = []

    def api_key(self, token: str | None) -> Principal:
        self.asked.append(("api_key", False))
        if self.caller is None or token is None:
            raise Unauthenticated("a tenant API key (Authorization: Bearer tg_…) is required")
        return self.caller

    def license_key(self, token: str, region: str | None, from_memory: bool) -> Principal:
        self.asked.append(("license_key", from_memory))
        if self.caller is None:
            raise Unauthenticated("unknown license key")
        return self.caller

    def license_key_to_wind_down(self, token: str) -> Principal:
        self.asked.append(("license_key_to_wind_down", False))
        if self.caller is None:
            raise Unauthenticated("unknown license key")
        return self.caller


class Services:
    def __init__(self, caller: Principal | None) -> None:
        self.credentials_ = Credentials(caller)

    def credentials(self) -> Credentials:
        return self.credentials_


def _resolver(caller: Principal | None) -> tuple[Any, list[Principal | None], Services]:
    from tollgate.edge.app import build_resolver

    router: CapabilityRouter[Services] = CapabilityRouter()
    sdk: CapabilityRouter[Services] = CapabilityRouter(Credential.SDK_REMEMBERED)
    reached: list[Principal | None] = []

    @router.get("/v1/balance", permission=Permission.READ_BALANCE)
    def balance() -> dict[str, Any]:
        reached.append(principal())
        return {}

    @router.get("/v1/open", permission=PUBLIC)
    def open_route() -> dict[str, Any]:
        reached.append(None)
        return {}

    @router.get("/v1/broken", permission=PUBLIC)
    def broken() -> dict[str, Any]:
        reached.append(principal())  # a public route has no caller: a bug of ours, a 500
        return {}

    @sdk.post("/v1/consume", permission=Permission.CONSUME)
    def consume() -> dict[str, Any]:
        reached.append(principal())
        return {}

    services = Services(caller)
    return build_resolver(_logger(), services, [router, sdk]), reached, services


def _status(app: Any, method: str, path: str, token: str | None = None, prefer: str | None = None) -> int:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if prefer is not None:
        headers["Prefer"] = prefer
    return int(app.resolve(event(method, path, headers=headers), Context())["statusCode"])


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        (None, 401),  # no or an unknown credential
        (Principal(tenant=TENANT, key_id="ak_0000000000000000"), 403),  # neither a role nor a license key
        (Principal(tenant=TENANT, key_id="ak_0000000000000000", role=Role.APPROVER), 200),
        (Principal(tenant=TENANT, key_id="ak_0000000000000000", role=Role.BILLING), 200),
    ],
)
def test_the_gate_decides_before_the_route_runs(caller: Principal | None, status: int) -> None:
    app, reached, _ = _resolver(caller)
    assert _status(app, "GET", "/v1/balance", token="tg_x") == status
    assert reached == ([caller] if status == 200 else [])


def test_a_license_key_passes_only_what_license_keys_may_do() -> None:
    key = LicenseKey("lk_0000000000000000", TENANT.id, "ci", "tgk_…", "hash", ("eu",), 1_800_000_000)
    caller = Principal(tenant=TENANT, key_id=key.id, license_key=key)
    app, reached, services = _resolver(caller)
    assert _status(app, "GET", "/v1/balance", token="tgk_x") == 403  # the portal takes API keys only
    assert _status(app, "POST", "/v1/consume", token="tgk_x", prefer="return=minimal") == 200
    assert _status(app, "POST", "/v1/consume", token="tgk_x") == 200
    assert reached == [caller, caller]
    assert services.credentials_.asked == [("api_key", False), ("license_key", True), ("license_key", False)]


def test_the_gate_is_inspected_once_not_per_request() -> None:
    """Powertools inspects a middleware's signature on its first call and keeps the answer on it; a gate that
    cannot hold it (a frozen dataclass) was inspected on every request, ~0.1 ms of the SDK's hot path."""
    app, _, _ = _resolver(Principal(tenant=TENANT, key_id="ak_0000000000000000", role=Role.OWNER))
    assert _status(app, "GET", "/v1/balance", token="tg_x") == 200
    route = next(route for route in app._static_routes if route.path == "/v1/balance")
    assert hasattr(gate_of(route.middlewares), "_powertools_middleware_inspection")


def test_a_public_route_asks_for_no_credential_and_has_no_caller() -> None:
    app, reached, services = _resolver(None)
    assert _status(app, "GET", "/v1/open") == 200
    assert reached == [None]
    assert _status(app, "GET", "/v1/broken") == 500
    assert services.credentials_.asked == []
    assert _status(app, "POST", "/v1/consume") == 401


def test_a_portal_function_answers_401_through_the_composition_roots_credentials(table: str) -> None:
    portal = load_function("portal")
    answer = portal.handler(event("GET", "/v1/balance", headers={"Authorization": "Bearer tg_nope"}), Context())
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"]["code"] == "UNAUTHENTICATED"


# ------------------------------------------------------------------------------------ handed services

CAPABILITIES = ("tenancy", "pool", "purchases", "keys", "holds", "approvals", "events", "reports")
COMPOSITION_ROOTS = ("tollgate.services", "tollgate.validation_services", "functions")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("package", ["edge", *CAPABILITIES])
def test_the_edge_and_the_capabilities_do_not_import_the_composition_root(package: str) -> None:
    for path in sorted((ROOT / "shared" / "tollgate" / package).rglob("*.py")):
        imported = _imports(path)
        wrong = {name for name in imported for root in COMPOSITION_ROOTS if name == root or name.startswith(root + ".")}
        assert wrong == set(), path.relative_to(ROOT)


@pytest.mark.parametrize("path", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_each_function_is_a_few_lines(path: Path) -> None:
    code = [line for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(code) <= 36, f"{path.relative_to(ROOT)}: its routes belong in a capability's routes.py"
