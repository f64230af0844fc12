"""Authorisation fails closed: every portal route states the permission it needs, and a principal without a
role (a license key, or any principal kind added later) is refused on every one of them, before any store
call. (The old ``require(caller.role or Role.MEMBER, …)`` let it read the tenant.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.unit.handlers import call, load_function
from tollgate import services
from tollgate.core.models import Principal, Tenant, TenantStatus
from tollgate.core.roles import Role
from tollgate.edge.contract.published import PUBLISHED

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
    monkeypatch.setattr(portal, "portal_principal", lambda _event: caller)
    from tollgate.approvals import routes as action_routes

    monkeypatch.setattr(action_routes, "any_principal", lambda _event, **_: caller)
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
