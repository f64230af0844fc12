"""Authorisation fails closed: every portal route states the permission it needs, and a principal without a
role (a license key, or any principal kind added later) is refused on every one of them, before any store
call. (The old ``require(caller.role or Role.MEMBER, …)`` let it read the tenant.)

The role matrix is proven here, through the functions' handlers: a route states its permission once, and
the services behind it no longer state it again (docs/decisions.md, "Routers per capability; permissions
stated once")."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.unit.handlers import call, load_function
from tollgate import services
from tollgate.core.models import Principal, Tenant, TenantStatus
from tollgate.core.roles import PERMISSIONS, Permission, Role
from tollgate.edge.contract.published import PUBLISHED
from tollgate.edge.routing import Access, gate_of

TENANT = Tenant("tn_0000000000000000", "Acme", "ops@acme.example", "eu-west-1", TenantStatus.ACTIVE, 1_800_000_000)
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/api-keys"): {"name": "ci", "role": "member"},
    ("POST", "/v1/projects"): {"name": "p"},
    ("PATCH", "/v1/projects/{}"): {"name": "p"},
    ("POST", "/v1/keys"): {"name": "ci", "regions": ["eu"]},
    ("POST", "/v1/purchases"): {"pack_id": "starter", "quantity": 1},
    ("POST", "/v1/alerts"): {"kind": "balance_below", "threshold": 10},
    ("PUT", "/v1/policy"): {"rules": []},
    ("POST", "/v1/policy/simulate"): {"action": "deploy"},
    ("POST", "/v1/actions/{}/reviews"): {"decision": "approve"},
    ("POST", "/v1/webhook-endpoints"): {"url": "https://hooks.example.com/t", "events": ["*"]},
    ("PUT", "/v1/budgets/{}"): {"limit": 10},
    ("PUT", "/v1/auto-top-up"): {"enabled": False, "threshold": 10, "pack_id": "starter", "monthly_limit": 1},
}
# What an approver may do besides reading the tenant, projects, catalog and balance: read the policy and the
# decision log (an approver needs to know what it approves).
APPROVER_READS = {
    ("GET", "/v1/policy"),
    ("POST", "/v1/policy/simulate"),
    ("GET", "/v1/decisions"),
    ("GET", "/v1/decisions/export"),
}


def function_of(method: str, path: str) -> str:
    """The function that serves a route, as template.yaml says (``{}`` for any path parameter)."""
    from infra.local.template import read_template
    from tests.conftest import ROOT

    for resource in read_template(ROOT / "template.yaml")["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for source in (resource["Properties"].get("Events") or {}).values():
            props = source.get("Properties") or {}
            if props.get("Method") == method and re.sub(r"\{[^}]+\}", "{}", str(props.get("Path"))) == path:
                return str(resource["Properties"]["CodeUri"]).strip("/").split("/")[-1]
    raise AssertionError(f"no function serves {method} {path}")


def portal_routes() -> list[tuple[str, str]]:
    document = json.loads(PUBLISHED.read_text())
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if {"apiKey"} == {name for requirement in operation.get("security") or [] for name in requirement}
    ]


class Always:
    """Credentials that authenticate every request as one caller (the edge's gate still authorises it)."""

    def __init__(self, caller: Principal) -> None:
        self.caller = caller

    def api_key(self, _token: str | None) -> Principal:
        return self.caller

    def license_key(self, _token: str, _region: str | None, _from_memory: bool) -> Principal:
        return self.caller

    def license_key_to_wind_down(self, _token: str) -> Principal:
        return self.caller


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch, method: str, path: str) -> Any:
    module = load_function(function_of(method, path))
    touched: list[str] = []

    def no_service(name: str) -> Any:
        def refuse(*_: Any, **__: Any) -> Any:
            touched.append(name)
            raise AssertionError(f"{name} was reached")

        return refuse

    for name in (
        "tenant_service",
        "pool_service",
        "project_service",
        "license_key_service",
        "purchase_service",
        "report_service",
        "alert_service",
        "policy_service",
        "decision_log",
        "webhook_endpoint_service",
        "event_service",
        "budget_service",
    ):
        monkeypatch.setattr(services, name, no_service(name))
    monkeypatch.setattr(services, "catalog", no_service("catalog"))
    module.touched = touched
    return module


@pytest.mark.parametrize("role", [None, Role.APPROVER])
@pytest.mark.parametrize(("method", "path"), portal_routes())
def test_portal_route_refuses_a_principal_without_the_permission(
    portal: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str, role: Role | None
) -> None:
    caller = Principal(tenant=TENANT, key_id="lk_0000000000000000", role=role)
    monkeypatch.setattr(services, "credentials", lambda: Always(caller))
    if role is Role.APPROVER and path == "/v1/actions/{}/reviews":
        pytest.skip("any API key may review what a rule names it for: the rule decides, not the role")
    if role is Role.APPROVER and (method, path) in {("GET", "/v1/tenant"), ("GET", "/v1/projects")}:
        pytest.skip("an approver may read these")
    if role is Role.APPROVER and (path in ("/v1/catalog", "/v1/balance") or (method, path) in APPROVER_READS):
        pytest.skip("an approver may read these")
    headers = {"Idempotency-Key": "k-1"} if path == "/v1/purchases" and method == "POST" else {}
    status, answer, _ = call(
        portal, method, path.replace("{}", "xx_0000000000000000"), BODIES.get((method, path)), headers=headers
    )
    assert status == 403, answer
    assert answer["error"]["code"] == "FORBIDDEN"
    assert portal.touched == []


def stated(method: str, path: str) -> Access:
    """The access the route's registration states (its gate's)."""
    app = load_function(function_of(method, path)).app
    for route in app._static_routes + app._dynamic_routes:
        if route.method == method and re.sub(r"<[^>]+>", "{}", route.path) == path:
            gate = gate_of(route.middlewares)
            assert gate is not None, (method, path)
            return gate.access
    raise AssertionError(f"{method} {path} is not registered")


def answer_to(portal: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str, role: Role) -> int:
    """The status the route answers a caller of ``role``; ``portal.touched`` names the services it reached."""
    caller = Principal(tenant=TENANT, key_id="ak_0000000000000000", role=role)
    monkeypatch.setattr(services, "credentials", lambda: Always(caller))
    portal.touched.clear()
    headers = {"Idempotency-Key": "k-1"} if path == "/v1/purchases" and method == "POST" else {}
    status, _, _ = call(
        portal, method, path.replace("{}", "xx_0000000000000000"), BODIES.get((method, path)), headers=headers
    )
    return status


@pytest.mark.parametrize(("method", "path"), portal_routes())
def test_each_role_passes_exactly_the_routes_its_permissions_allow(
    portal: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    """Every role on every portal route: refused (403, no service reached) when the role matrix does not give
    it the route's permission, let through to the route otherwise."""
    access = stated(method, path)
    if not isinstance(access, Permission):
        pytest.skip("no single permission: the service decides from the resource (any API key may review)")
    for role in Role:
        status = answer_to(portal, monkeypatch, method, path, role)
        if access in PERMISSIONS[role]:
            assert status not in (401, 403), (role, status)
        else:
            assert (status, portal.touched) == (403, []), role


# Each role's answer on the routes whose services used to check the permission themselves (tests/unit/
# test_tenants.py, test_alerts.py, test_purchases.py, test_usage.py, test_webhook_store.py asserted these on
# the services): stated here independently of the routes and the matrix, so a route that states the wrong
# permission fails.
ALLOWED: dict[tuple[str, str], set[Role]] = {
    ("GET", "/v1/api-keys"): {Role.OWNER, Role.ADMIN, Role.AUDITOR},
    ("POST", "/v1/api-keys"): {Role.OWNER, Role.ADMIN},
    ("DELETE", "/v1/api-keys/{}"): {Role.OWNER, Role.ADMIN},
    ("POST", "/v1/projects"): {Role.OWNER, Role.ADMIN},
    ("PATCH", "/v1/projects/{}"): {Role.OWNER, Role.ADMIN},
    ("GET", "/v1/projects"): set(Role),
    ("POST", "/v1/purchases"): {Role.OWNER, Role.ADMIN, Role.BILLING},
    ("GET", "/v1/purchases"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("GET", "/v1/purchases/{}"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("GET", "/v1/usage"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("GET", "/v1/usage/forecast"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("GET", "/v1/purchases/{}/usage"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("GET", "/v1/alerts"): {Role.OWNER, Role.ADMIN, Role.BILLING},
    ("POST", "/v1/alerts"): {Role.OWNER, Role.ADMIN, Role.BILLING},
    ("DELETE", "/v1/alerts/{}"): {Role.OWNER, Role.ADMIN, Role.BILLING},
    ("GET", "/v1/events"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("GET", "/v1/webhook-endpoints"): {Role.OWNER, Role.ADMIN},
    ("POST", "/v1/webhook-endpoints"): {Role.OWNER, Role.ADMIN},
    ("GET", "/v1/webhook-endpoints/{}"): {Role.OWNER, Role.ADMIN},
    ("DELETE", "/v1/webhook-endpoints/{}"): {Role.OWNER, Role.ADMIN},
    ("POST", "/v1/webhook-endpoints/{}/rotate-secret"): {Role.OWNER, Role.ADMIN},
    ("POST", "/v1/webhook-endpoints/{}/test"): {Role.OWNER, Role.ADMIN},
    ("POST", "/v1/webhook-endpoints/{}/enable"): {Role.OWNER, Role.ADMIN},
    ("GET", "/v1/webhook-endpoints/{}/deliveries"): {Role.OWNER, Role.ADMIN},
    ("GET", "/v1/policy"): {Role.OWNER, Role.ADMIN, Role.APPROVER, Role.AUDITOR},
    ("POST", "/v1/policy/simulate"): {Role.OWNER, Role.ADMIN, Role.APPROVER, Role.AUDITOR},
    ("PUT", "/v1/policy"): {Role.OWNER, Role.ADMIN},
    ("GET", "/v1/decisions"): {Role.OWNER, Role.ADMIN, Role.APPROVER, Role.AUDITOR},
    ("GET", "/v1/decisions/export"): {Role.OWNER, Role.ADMIN, Role.APPROVER, Role.AUDITOR},
    ("GET", "/v1/budgets"): {Role.OWNER, Role.ADMIN, Role.BILLING, Role.AUDITOR},
    ("PUT", "/v1/budgets/{}"): {Role.OWNER, Role.ADMIN, Role.BILLING},
    ("DELETE", "/v1/budgets/{}"): {Role.OWNER, Role.ADMIN, Role.BILLING},
}


@pytest.mark.parametrize(("method", "path"), sorted(ALLOWED))
def test_the_roles_each_route_lets_through(
    portal: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    passed = {role for role in Role if answer_to(portal, monkeypatch, method, path, role) not in (401, 403)}
    assert passed == ALLOWED[(method, path)]
