"""The tenant's action policy over real HTTP on DynamoDB Local: read, replace under If-Match, refusals that
name the rule and the field, and the simulator's explanations."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

PROD_RULE: dict[str, Any] = {
    "id": "prod-deploys",
    "description": "production deploys over 100 tokens need two approvers",
    "effect": "require_approval",
    "match": {"actions": ["deploy.*"], "environments": ["production"], "min_tokens": 101},
    "approval": {
        "approvers": {"roles": ["approver"]},
        "quorum": 2,
        "timeout_s": 900,
        "escalate_after_s": 600,
        "escalate_to": {"roles": ["admin"]},
    },
}
NIGHTS: dict[str, Any] = {
    "id": "nights",
    "effect": "deny",
    "match": {"schedule": {"from": "22:00", "to": "06:00", "timezone": "Europe/Berlin"}},
}


def put(stack: Stack, key: str, policy: dict[str, Any], version: int | str | None) -> Any:
    headers = {} if version is None else {"If_Match": f'"{version}"' if isinstance(version, int) else version}
    return stack.call("PUT", "/v1/policy", policy, key=key, **headers)


def test_a_new_tenant_has_an_empty_allowing_policy(stack: Stack) -> None:
    _, owner = stack.signup()
    answer = stack.call("GET", "/v1/policy", key=owner)
    assert answer.status == 200, answer.body
    assert answer.body == {"policy": {"version": 0, "default_effect": "allow", "rules": []}}
    assert answer.headers["ETag"] == '"0"'


def test_a_policy_is_replaced_only_from_its_current_version(stack: Stack) -> None:
    _, owner = stack.signup()
    first = put(stack, owner, {"rules": [PROD_RULE]}, 0)
    assert first.status == 200, first.body
    assert (first.body["policy"]["version"], first.headers["ETag"]) == (1, '"1"')
    assert first.body["policy"]["rules"][0]["approval"]["grant_ttl_s"] == 600  # the default
    read = stack.call("GET", "/v1/policy", key=owner)
    assert read.body == first.body

    stale = put(stack, owner, {"default_effect": "deny", "rules": []}, 0)
    assert (stale.status, stale.body["error"]["code"]) == (412, "PRECONDITION_FAILED")
    missing = put(stack, owner, {"rules": []}, None)
    assert (missing.status, missing.body["error"]["code"]) == (428, "PRECONDITION_REQUIRED")
    garbage = put(stack, owner, {"rules": []}, "v1")
    assert (garbage.status, garbage.body["error"]["field"]) == (422, "If-Match")
    assert stack.call("GET", "/v1/policy", key=owner).body == first.body  # none of them wrote anything

    second = put(stack, owner, {"default_effect": "deny", "rules": [NIGHTS, PROD_RULE]}, 1)
    assert second.status == 200, second.body
    assert second.body["policy"]["version"] == 2
    assert [rule["id"] for rule in second.body["policy"]["rules"]] == ["nights", "prod-deploys"]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({**PROD_RULE, "approval": {**PROD_RULE["approval"], "quorum": 0}}, "rules.1.approval.quorum"),
        ({**PROD_RULE, "approval": {**PROD_RULE["approval"], "approvers": {"roles": ["boss"]}}}, "rules.1.approval"),
        ({**NIGHTS, "id": "late", "match": {"schedule": {**NIGHTS["match"]["schedule"], "timezone": "Mars/Base"}}}, ""),
        ({**NIGHTS, "id": "late", "condition": "tokens >"}, "rules.1.condition"),
        ({**NIGHTS, "id": "late", "condition": "tokenz > 1"}, "rules.1.condition"),
        ({**NIGHTS, "id": "nights"}, "rules"),  # the same id twice
        ({**NIGHTS, "id": "late", "effect": "maybe"}, "rules.1.effect"),
        ({"id": "late", "effect": "require_approval"}, "rules.1"),  # no approval
        ({"id": "late", "effect": "allow", "match": {"min_tokens": 5, "max_tokens": 4}}, "rules.1.match"),
        ({"id": "late", "effect": "allow", "match": {"actions": ["a b"]}}, "rules.1.match.actions.0"),
        ({"id": "late", "effect": "allow", "extra": 1}, "rules.1.extra"),
    ],
)
def test_a_policy_that_does_not_hold_is_refused_naming_the_rule_and_field(
    stack: Stack, rule: dict[str, Any], field: str
) -> None:
    _, owner = stack.signup()
    answer = put(stack, owner, {"rules": [NIGHTS, rule]}, 0)
    assert answer.status == 422, answer.body
    assert answer.body["error"]["field"].startswith(field or "rules.1.match.schedule"), answer.body
    assert stack.call("GET", "/v1/policy", key=owner).body["policy"]["version"] == 0


def test_approvers_must_be_keys_of_this_tenant(stack: Stack) -> None:
    _, owner = stack.signup()
    _, other_owner = stack.signup("Other")
    theirs = stack.call("POST", "/v1/api-keys", {"name": "a", "role": "approver"}, key=other_owner).body["api_key"]
    mine = stack.call("POST", "/v1/api-keys", {"name": "a", "role": "approver"}, key=owner).body["api_key"]
    approval = {**PROD_RULE["approval"], "approvers": {"api_key_ids": [mine["id"], theirs["id"]]}}
    refused = put(stack, owner, {"rules": [{**PROD_RULE, "approval": approval}]}, 0)
    assert refused.status == 422, refused.body
    assert refused.body["error"]["field"] == "rules.0.approval.approvers.api_key_ids.1"
    assert "prod-deploys" in refused.body["error"]["message"]
    approval["approvers"] = {"api_key_ids": [mine["id"]]}
    assert put(stack, owner, {"rules": [{**PROD_RULE, "approval": approval}]}, 0).status == 200


def test_who_may_read_and_change_the_policy(stack: Stack) -> None:
    _, owner = stack.signup()
    for role, reads, writes in [
        ("admin", 200, 200),
        ("auditor", 200, 403),
        ("approver", 200, 403),
        ("member", 403, 403),
        ("billing", 403, 403),
    ]:
        key = stack.api_key(owner, role)
        assert stack.call("GET", "/v1/policy", key=key).status == reads, role
        version = stack.call("GET", "/v1/policy", key=owner).body["policy"]["version"]
        assert put(stack, key, {"rules": []}, version).status == writes, role
        simulated = stack.call("POST", "/v1/policy/simulate", {"action": "consume"}, key=key)
        assert simulated.status == reads, role
    assert stack.call("GET", "/v1/policy").status == 401


def test_the_simulator_explains_without_acting(stack: Stack) -> None:
    _, owner = stack.signup()
    condition = {"id": "risky", "effect": "deny", "condition": "attributes.risk > 5"}
    assert put(stack, owner, {"rules": [condition, PROD_RULE, NIGHTS]}, 0).status == 200
    request = {
        "action": "deploy.web",
        "tokens": 101,
        "environment": "production",
        "attributes": {"risk": 2},
        "key_id": "lk_0000000000000001",
    }
    answer = stack.call("POST", "/v1/policy/simulate", request, key=owner)
    assert answer.status == 200, answer.body
    decision = answer.body["decision"]
    assert (decision["effect"], decision["rule_id"], decision["policy_version"]) == (
        "require_approval",
        "prod-deploys",
        1,
    )
    assert decision["matched_fields"] == ["actions", "environments", "min_tokens"]
    assert decision["approval"]["quorum"] == 2
    assert decision["rules"][0] == {
        "rule_id": "risky",
        "matched": False,
        "fields": {},
        "condition": False,
        "condition_error": None,
    }
    small = stack.call("POST", "/v1/policy/simulate", {**request, "tokens": 100}, key=owner).body["decision"]
    assert small["rules"][1]["fields"] == {"actions": True, "environments": True, "min_tokens": False}
    failing = stack.call("POST", "/v1/policy/simulate", {**request, "attributes": {}}, key=owner).body["decision"]
    assert (failing["effect"], failing["rule_id"]) == ("deny", "risky")
    assert failing["condition_error"]
    assert stack.call("GET", "/v1/decisions", key=owner).body["decisions"] == []  # nothing was written
    bad = stack.call("POST", "/v1/policy/simulate", {"action": "x", "tokens": -1}, key=owner)
    assert (bad.status, bad.body["error"]["field"]) == (422, "tokens")
