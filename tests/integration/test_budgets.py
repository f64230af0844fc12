"""Budgets at four levels over real HTTP on DynamoDB Local (SPEC.md, "Budgets, top-ups and refills";
invariant 13): every level that applies is charged in the debit's own transaction, the tightest refuses and
is named, concurrent spenders never pass a level, monthly levels reset when read in a later month."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import Stack
from tests.integration.test_alerts import events
from tests.integration.test_pool import consume

pytestmark = pytest.mark.integration


def keyed_tenant(stack: Stack, tokens: int = 1000) -> tuple[str, str, str, str, str]:
    """A tenant with ``tokens``, a project and a license key scoped to it in environment ``production``:
    (tenant id, owner key, project id, key id, key secret)."""
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, tokens)
    project = stack.call("POST", "/v1/projects", {"name": "ci"}, key=owner).body["project"]
    body = {"name": "ci", "regions": ["us-east-1"], "project_id": project["id"], "environment": "production"}
    created = stack.call("POST", "/v1/keys", body, key=owner)
    assert created.status == 201, created.body
    return tenant_id, owner, project["id"], created.body["key"]["id"], created.body["secret"]


def put_budget(stack: Stack, owner: str, scope: str, limit: int, period: str | None = None) -> dict:
    body = {"limit": limit} if period is None else {"limit": limit, "period": period}
    answer = stack.call("PUT", f"/v1/budgets/{scope}", body, key=owner)
    assert answer.status == 200, answer.body
    return dict(answer.body["budget"])


def budgets(stack: Stack, owner: str) -> dict[str, dict]:
    answer = stack.call("GET", "/v1/budgets", key=owner)
    assert answer.status == 200, answer.body
    return {budget["scope"]: budget for budget in answer.body["budgets"]}


def test_32_concurrent_spenders_never_pass_an_environment_budget(stack: Stack) -> None:
    tenant_id, owner, project_id, _, secret = keyed_tenant(stack)
    scope = f"environment:{project_id}:production"
    put_budget(stack, owner, scope, 50)
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: consume(stack, secret, 1), range(80)))
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 50, statuses
    refusals = [body["error"] for status, body in results if status == 402]
    assert {(error["code"], error["limit"]) for error in refusals} == {("ENVIRONMENT_BUDGET_EXHAUSTED", scope)}
    shown = budgets(stack, owner)[scope]
    assert (shown["limit"], shown["used"], shown["held"], shown["left"], shown["period"]) == (50, 50, 0, 0, "none")
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == 950
    stack.settle()  # budget.exhausted comes from the stream: once for the level, however many were refused
    [exhausted] = events(stack, owner, "budget.exhausted")
    assert exhausted["data"] == {"scope": scope, "limit": 50, "period": "none"}
    stack.audit(tenant_id)


LEVELS = ["tenant", "project", "environment", "key"]


@pytest.mark.parametrize("tightest", LEVELS)
def test_the_tightest_level_refuses_and_is_named(stack: Stack, tightest: str) -> None:
    tenant_id, owner, project_id, key_id, secret = keyed_tenant(stack)
    scopes = {
        "tenant": "tenant",
        "project": f"project:{project_id}",
        "environment": f"environment:{project_id}:production",
        "key": f"key:{key_id}",
    }
    for level, scope in scopes.items():
        put_budget(stack, owner, scope, 5 if level == tightest else 100)
    assert consume(stack, secret, 3)[0] == 200
    status, body = consume(stack, secret, 3)
    assert status == 402, body
    assert (body["error"]["code"], body["error"]["limit"]) == (f"{tightest.upper()}_BUDGET_EXHAUSTED", scopes[tightest])
    shown = budgets(stack, owner)
    assert {scope: shown[scope]["used"] for scope in scopes.values()} == dict.fromkeys(scopes.values(), 3)
    for budget in shown.values():
        assert budget["used"] + budget["held"] + budget["left"] == budget["limit"]
    stack.audit(tenant_id)


def test_when_several_levels_refuse_the_least_left_is_named(stack: Stack) -> None:
    tenant_id, owner, project_id, key_id, secret = keyed_tenant(stack)
    put_budget(stack, owner, f"key:{key_id}", 6)
    put_budget(stack, owner, f"environment:{project_id}:production", 5)
    put_budget(stack, owner, f"project:{project_id}", 7)
    assert consume(stack, secret, 4)[0] == 200  # left: key 2, environment 1, project 3
    status, body = consume(stack, secret, 4)
    assert status == 402
    assert body["error"]["limit"] == f"environment:{project_id}:production"
    assert body["error"]["code"] == "ENVIRONMENT_BUDGET_EXHAUSTED"
    stack.audit(tenant_id)


def test_a_monthly_tenant_cap_resets_in_the_next_month_when_read(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 1000)
    member = stack.api_key(owner, "member")
    put_budget(stack, owner, "tenant", 10, "month")
    assert consume(stack, member, 10)[0] == 200
    status, body = consume(stack, member, 1)
    assert (status, body["error"]["code"], body["error"]["limit"]) == (402, "TENANT_BUDGET_EXHAUSTED", "tenant")
    shown = budgets(stack, owner)["tenant"]
    assert (shown["used"], shown["left"], shown["period"]) == (10, 0, "month")
    resets_at = shown["resets_at"]
    stack.settle()
    [first] = events(stack, owner, "budget.exhausted")
    stack.advance(32 * 86400)  # past the next UTC month start, whatever the day
    assert consume(stack, member, 4, uuid.uuid4().hex)[0] == 200  # the first spend of the month resets it
    shown = budgets(stack, owner)["tenant"]
    assert (shown["used"], shown["held"], shown["left"]) == (4, 0, 6)
    assert shown["resets_at"] > resets_at
    assert consume(stack, member, 6)[0] == 200 and consume(stack, member, 1)[0] == 402  # exhausted again
    stack.settle()  # once per level per period: the new month's own event (the first is past the 30 days listed)
    [second] = events(stack, owner, "budget.exhausted")
    assert second["id"] != first["id"] and second["data"] == first["data"] == {
        "scope": "tenant",
        "limit": 10,
        "period": "month",
    }
    stack.audit(tenant_id)


def test_holds_count_as_held_and_settle_into_used(stack: Stack) -> None:
    tenant_id, owner, _, key_id, secret = keyed_tenant(stack)
    scope = f"key:{key_id}"
    put_budget(stack, owner, scope, 100)
    opened = stack.call(
        "POST", "/v1/leases", {"feature": "build", "duration_s": 3600}, key=secret, Idempotency_Key="l1"
    )
    assert opened.status in (200, 201), opened.body
    held = budgets(stack, owner)[scope]
    assert held["held"] > 0 and held["used"] == 0 and held["left"] == 100 - held["held"]
    closed = stack.call("DELETE", f"/v1/leases/{opened.body['lease']['id']}", key=secret)
    assert closed.status == 200, closed.body
    after = budgets(stack, owner)[scope]
    assert after["held"] == 0 and after["used"] + after["left"] == 100 and after["used"] <= held["held"]
    stack.audit(tenant_id)


def test_budget_routes_refuse_what_they_must(stack: Stack) -> None:
    tenant_id, owner, project_id, _, _ = keyed_tenant(stack)
    auditor, member = stack.api_key(owner, "auditor"), stack.api_key(owner, "member")
    assert stack.call("GET", "/v1/budgets", key=auditor).status == 200
    assert stack.call("PUT", "/v1/budgets/tenant", {"limit": 5}, key=auditor).status == 403
    assert stack.call("GET", "/v1/budgets", key=member).status == 403
    assert stack.call("PUT", "/v1/budgets/planet", {"limit": 5}, key=owner).status == 422
    assert stack.call("PUT", f"/v1/budgets/environment:{project_id}:Prod", {"limit": 5}, key=owner).status == 422
    assert stack.call("PUT", "/v1/budgets/project:pj_0000000000000000", {"limit": 5}, key=owner).status == 404
    assert stack.call("PUT", "/v1/budgets/key:lk_0000000000000000", {"limit": 5}, key=owner).status == 404
    assert stack.call("PUT", "/v1/budgets/tenant", {"limit": -1}, key=owner).status == 422
    assert stack.call("DELETE", "/v1/budgets/tenant", key=owner).status == 404
    # a project's budget set by PATCH is the same budget, period none
    assert stack.call("PATCH", f"/v1/projects/{project_id}", {"budget": 9}, key=owner).status == 200
    assert budgets(stack, owner)[f"project:{project_id}"]["limit"] == 9
    put_budget(stack, owner, f"project:{project_id}", 12, "month")
    project = stack.call("GET", "/v1/projects", key=owner).body["projects"][0]
    assert project["budget"] == 12
    deleted = stack.call("DELETE", f"/v1/budgets/project:{project_id}", key=owner)
    assert deleted.status == 200 and deleted.body["budget"]["limit"] == 12
    assert budgets(stack, owner) == {}
    stack.audit(tenant_id)
