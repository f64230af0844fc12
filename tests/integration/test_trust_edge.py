"""A second trust pass over real HTTP (issue 20): non-JSON bodies are a 415 that changes nothing, policies
are bounded (CEL cost, linear globs), aged-out cursors, actions on absent projects, counted limits under
concurrency, malformed Stripe events and e-mail addresses. Each test failed before its fix."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import stripe

from tests.integration.conftest import Response, Stack, http
from tests.integration.test_actions import Tenant
from tests.integration.test_purchases import WEBHOOK_SECRET, balance, buy, pay, resend, stripe_get

pytestmark = pytest.mark.integration

DENY_ALL_FORM = '--b\r\nContent-Disposition: form-data; name="default_effect"\r\n\r\ndeny\r\n--b--\r\n'


def test_a_multipart_or_form_policy_is_415_and_the_policy_stays(stack: Stack) -> None:
    _, owner = stack.signup()
    put = stack.call("PUT", "/v1/policy", {"default_effect": "deny", "rules": []}, key=owner, If_Match='"0"')
    assert put.status == 200, put.body
    auth = {"Authorization": f"Bearer {owner}", "If-Match": '"1"'}
    for content_type, body in [
        ("multipart/form-data; boundary=b", DENY_ALL_FORM.replace("deny", "allow")),
        ("multipart/form-data; boundary=b", ""),
        ("application/x-www-form-urlencoded", "default_effect=allow"),
        ("text/plain", '{"default_effect": "allow", "rules": []}'),
    ]:
        headers = {**auth, "Content-Type": content_type}
        answer = http("PUT", stack.api + "/v1/policy", raw=body.encode(), headers=headers)
        assert answer.status == 415, (content_type, answer.body)
        assert answer.body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    policy = stack.call("GET", "/v1/policy", key=owner)
    assert (policy.body["policy"]["version"], policy.body["policy"]["default_effect"]) == (1, "deny")


def test_a_multipart_project_patch_is_415_and_the_project_stays(stack: Stack) -> None:
    _, owner = stack.signup()
    project = stack.call("POST", "/v1/projects", {"name": "farm", "budget": 10}, key=owner).body["project"]
    form = '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nrenamed\r\n--b--\r\n'
    headers = {"Authorization": f"Bearer {owner}", "Content-Type": "multipart/form-data; boundary=b"}
    answer = http("PATCH", f"{stack.api}/v1/projects/{project['id']}", raw=form.encode(), headers=headers)
    assert answer.status == 415, answer.body
    listed = stack.call("GET", "/v1/projects", key=owner).body
    assert [p["name"] for p in listed["projects"]] == ["farm"]


DIGITS = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
FIVE_DEEP = f"{DIGITS}.all(a, {DIGITS}.all(b, {DIGITS}.all(c, {DIGITS}.all(d, {DIGITS}.all(e, a + e >= 0)))))"


@pytest.mark.parametrize("condition", [FIVE_DEEP, f"tokens > 1000 ? {FIVE_DEEP} : true"])
def test_a_costly_condition_is_refused_at_put_and_the_policy_stays(stack: Stack, condition: str) -> None:
    _, owner = stack.signup()
    rule = {"id": "costly", "effect": "deny", "condition": condition}
    answer = stack.call("PUT", "/v1/policy", {"rules": [rule]}, key=owner, If_Match='"0"')
    assert answer.status == 422, answer.body
    assert answer.body["error"]["field"] == "rules.0.condition"
    assert "would cost about" in answer.body["error"]["message"]
    assert stack.call("GET", "/v1/policy", key=owner).body["policy"]["version"] == 0


def test_an_action_glob_with_seven_stars_decides_at_once(stack: Stack) -> None:
    """A backtracking matcher took seconds per rule here, and the gateway's 10 s made it a 500."""
    tenant = Tenant(stack)
    tenant.policy([{"id": "stars", "effect": "deny", "match": {"actions": ["*a*a*a*a*a*a*a*b"]}}])
    member = tenant.key("member")[1]
    answer = stack.call("POST", "/v1/actions", {"action": "a" * 64}, key=member, Idempotency_Key=str(uuid.uuid4()))
    assert answer.status == 200, answer.body  # no match: the default allows
    denied = stack.call(
        "POST", "/v1/actions", {"action": "a" * 63 + "b"}, key=member, Idempotency_Key=str(uuid.uuid4())
    )
    assert (denied.status, denied.body["error"]["code"]) == (403, "ACTION_DENIED")


@pytest.mark.parametrize("feature", [None, "deploy"])
def test_an_action_naming_an_absent_or_foreign_project_is_404(stack: Stack, feature: str | None) -> None:
    tenant, other = Tenant(stack), Tenant(stack)
    theirs = stack.call("POST", "/v1/projects", {"name": "theirs", "budget": 100}, key=other.owner).body["project"]
    member = tenant.key("member")[1]
    for project_id in (theirs["id"], "pj_" + "0" * 16):
        body = {"action": "deploy", "project_id": project_id} | ({"feature": feature} if feature else {})
        answer = stack.call("POST", "/v1/actions", body, key=member, Idempotency_Key=str(uuid.uuid4()))
        assert (answer.status, answer.body["error"]["code"]) == (404, "NOT_FOUND"), answer.body
    assert tenant.pool() == (1000, 0)  # nothing held
    assert stack.call("GET", "/v1/actions", key=tenant.owner).body["actions"] == []
    stack.audit(tenant.id)


def test_an_events_cursor_aged_out_of_the_window_is_a_422_naming_it(stack: Stack) -> None:
    tenant = Tenant(stack)
    approval = {"approvers": {"roles": ["owner"]}, "quorum": 1, "timeout_s": 3600}
    tenant.policy([{"id": "ask", "effect": "require_approval", "approval": approval}])
    member = tenant.key("member")[1]
    for _ in range(2):
        asked = tenant.ask(member, {"action": "deploy"})
        assert asked.status == 202, asked.body
    page = stack.call("GET", "/v1/events?limit=1", key=tenant.owner)
    assert page.status == 200 and page.body["next_cursor"], page.body
    stack.advance(31 * 86_400)
    aged = stack.call("GET", f"/v1/events?limit=1&cursor={page.body['next_cursor']}", key=tenant.owner)
    assert aged.status == 422, aged.body
    assert (aged.body["error"]["field"], aged.body["error"]["code"]) == ("cursor", "INVALID_FIELD")


@pytest.mark.parametrize("query", ["from=9999-12-01&to=9999-12-31", "to=2199-01-01", "from=1999-12-31"])
def test_usage_dates_far_ahead_or_before_2000_are_422(stack: Stack, query: str) -> None:
    _, owner = stack.signup()
    answer = stack.call("GET", f"/v1/usage?{query}", key=owner)
    assert answer.status == 422, answer.body


def _concurrently(count: int, send: Callable[[int], int]) -> list[int]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(send, range(count)))


def test_the_alert_cap_holds_under_concurrent_creates(stack: Stack) -> None:
    _, owner = stack.signup()
    for threshold in range(40):
        made = stack.call("POST", "/v1/alerts", {"kind": "balance_below", "threshold": threshold + 1}, key=owner)
        assert made.status == 201, made.body

    def create(index: int) -> int:
        body = {"kind": "balance_below", "threshold": 1000 + index}
        return stack.call("POST", "/v1/alerts", body, key=owner).status

    statuses = _concurrently(24, create)
    assert set(statuses) <= {201, 409, 503}, statuses
    assert len(stack.call("GET", "/v1/alerts", key=owner).body["alerts"]) == 50
    alert_id = stack.call("GET", "/v1/alerts", key=owner).body["alerts"][0]["id"]
    assert stack.call("DELETE", f"/v1/alerts/{alert_id}", key=owner).status == 200  # the count goes down too
    again = stack.call("POST", "/v1/alerts", {"kind": "balance_below", "threshold": 5000}, key=owner)
    assert again.status == 201, again.body
    over = stack.call("POST", "/v1/alerts", {"kind": "balance_below", "threshold": 5001}, key=owner)
    assert over.status == 409, over.body


def test_the_webhook_endpoint_cap_holds_under_concurrent_creates(stack: Stack) -> None:
    _, owner = stack.signup()

    def create(index: int) -> int:
        body = {"url": f"{stack.api}/_local/webhooks/cap{index}", "events": ["purchase.paid"]}
        return stack.call("POST", "/v1/webhook-endpoints", body, key=owner).status

    assert all(create(100 + index) == 201 for index in range(12))
    statuses = _concurrently(24, create)
    assert set(statuses) <= {201, 409, 503}, statuses
    assert len(stack.call("GET", "/v1/webhook-endpoints", key=owner).body["endpoints"]) == 20


def post_signed(stack: Stack, body: str) -> Response:
    """A body signed as Stripe signs it (the stripe SDK's own signer), under the local stack's secret."""
    header = stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)
    headers = {"Content-Type": "application/json", "Stripe-Signature": header}
    return http("POST", stack.api + "/v1/stripe/webhook", raw=body.encode(), headers=headers)


@pytest.mark.parametrize("body", ['"hello"', "123", "null", "[1,2]", "{}", '{"id": 5, "type": "x"}', "{"])
def test_a_signed_body_that_is_not_an_event_is_400_invalid_event(stack: Stack, body: str) -> None:
    answer = post_signed(stack, body)
    assert (answer.status, answer.body["error"]["code"]) == (400, "INVALID_EVENT"), answer.body


@pytest.mark.parametrize(("field", "value"), [("amount_total", "1000"), ("amount_total", True), ("metadata", "x")])
def test_a_signed_session_with_fields_of_the_wrong_type_is_400_and_credits_nothing(
    stack: Stack, field: str, value: Any
) -> None:
    _, owner = stack.signup()
    record = buy(stack, owner)["purchase"]
    completed = pay(stack, record["stripe_session_id"], deliver=False)
    event = stripe_get(stack, f"/v1/events/{completed['event']['id']}")
    event["data"]["object"][field] = value
    answer = post_signed(stack, json.dumps(event))
    assert (answer.status, answer.body["error"]["code"]) == (400, "INVALID_EVENT"), answer.body
    assert balance(stack, owner) == 0
    assert resend(stack, completed["event"]["id"])["delivery"]["status"] == 200  # the real event still credits
    assert balance(stack, owner) == 1000


def test_a_dispute_about_a_charge_stripe_does_not_have_is_acknowledged_and_moves_nothing(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    dispute = {"id": "dp_gone", "object": "dispute", "charge": "ch_" + uuid.uuid4().hex, "amount": 500}
    event = {"id": "evt_" + uuid.uuid4().hex, "object": "event", "type": "charge.dispute.created", "created": 1}
    event["data"] = {"object": dispute}
    answer = post_signed(stack, json.dumps(event))
    assert answer.status == 200, answer.body
    assert answer.body["outcome"] == "unmatched"
    again = post_signed(stack, json.dumps(event))
    assert (again.status, again.body["outcome"]) == (200, "duplicate")  # recorded: its retries stop here
    assert balance(stack, owner) == 100
    stack.audit(tenant_id)
