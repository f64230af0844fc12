"""The policy on the spending routes, and the decision log, over real HTTP on DynamoDB Local: consume, leases
and allowances refused by deny and require_approval rules (nothing spent, a decision recorded), a policy
changed between calls never spent under (every gateway worker caches policies), a retried request that was
accepted before replayed, and the chain listed, exported, verified, and caught when tampered with."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest

from tests.integration.conftest import Stack, http

pytestmark = pytest.mark.integration


def license_key(stack: Stack, owner: str, **scope: Any) -> tuple[str, str]:
    made = stack.call("POST", "/v1/keys", {"name": "runner", "regions": ["*"], **scope}, key=owner)
    assert made.status == 201, made.body
    return made.body["secret"], made.body["key"]["id"]


def set_policy(stack: Stack, owner: str, *rules: dict[str, Any], default: str = "allow") -> int:
    version = stack.call("GET", "/v1/policy", key=owner).body["policy"]["version"]
    answer = stack.call(
        "PUT", "/v1/policy", {"default_effect": default, "rules": list(rules)}, key=owner, If_Match=f'"{version}"'
    )
    assert answer.status == 200, answer.body
    return int(answer.body["policy"]["version"])


def consume(stack: Stack, key: str, quantity: int = 1, idempotency_key: str | None = None, **headers: str) -> Any:
    body = {"feature": "build", "quantity": quantity}
    return stack.call(
        "POST", "/v1/consume", body, key=key, Idempotency_Key=idempotency_key or uuid.uuid4().hex, **headers
    )


def balance(stack: Stack, owner: str) -> int:
    return int(stack.call("GET", "/v1/balance", key=owner).body["balance"])


def decisions(stack: Stack, owner: str) -> list[dict[str, Any]]:
    answer = stack.call("GET", "/v1/decisions?limit=200", key=owner)
    assert answer.status == 200, answer.body
    return list(answer.body["decisions"])


def test_deny_and_approval_rules_refuse_every_spending_route(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 1000)
    secret, key_id = license_key(stack, owner, environment="production")
    version = set_policy(
        stack,
        owner,
        {"id": "no-leases", "effect": "deny", "match": {"actions": ["lease"]}},
        {
            "id": "big-prod",
            "effect": "require_approval",
            "match": {"actions": ["consume", "allowance"], "environments": ["production"], "min_tokens": 50},
            "approval": {"approvers": {"roles": ["approver"]}, "quorum": 1, "timeout_s": 600},
        },
    )
    assert consume(stack, secret, 49).status == 200  # under the range: allowed

    big = consume(stack, secret, 50)  # min_tokens is inclusive
    assert (big.status, big.body["error"]["code"], big.body["error"]["rule_id"]) == (
        403,
        "APPROVAL_REQUIRED",
        "big-prod",
    )
    lease = stack.call("POST", "/v1/leases", {"feature": "build", "duration_s": 60}, key=secret, Idempotency_Key="l1")
    assert (lease.status, lease.body["error"]["code"], lease.body["error"]["rule_id"]) == (
        403,
        "ACTION_DENIED",
        "no-leases",
    )
    allowance = stack.call(
        "POST", "/v1/allowances", {"feature": "build", "tokens": 100}, key=secret, Idempotency_Key="a1"
    )
    assert (allowance.status, allowance.body["error"]["code"]) == (403, "APPROVAL_REQUIRED")
    small = stack.call("POST", "/v1/allowances", {"feature": "build", "tokens": 10}, key=secret, Idempotency_Key="a2")
    assert small.status == 201, small.body

    minimal = consume(stack, secret, 60, Prefer="return=minimal")  # the one-write path obeys it too
    assert (minimal.status, minimal.body["error"]["code"]) == (403, "APPROVAL_REQUIRED")

    state = stack.call("GET", "/v1/balance", key=owner).body
    assert (state["balance"], state["reserved"]) == (1000 - 49, 10)  # nothing refused was charged or held
    refused = [(d["event"], d["rule_id"], d["policy_version"], d["actor"]) for d in decisions(stack, owner)]
    actor = f"license_key:{key_id}"
    assert refused == [
        ("spend.approval_required", "big-prod", version, actor),
        ("spend.denied", "no-leases", version, actor),
        ("spend.approval_required", "big-prod", version, actor),
        ("spend.approval_required", "big-prod", version, actor),
    ]
    stack.audit(tenant_id)


def test_a_default_deny_refuses_api_keys_too(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    member = stack.api_key(owner, "member")
    set_policy(stack, owner, {"id": "ci-only", "effect": "allow", "match": {"features": ["scan"]}}, default="deny")
    refused = consume(stack, member)
    assert (refused.status, refused.body["error"]["code"]) == (403, "ACTION_DENIED")
    assert "rule_id" not in refused.body["error"]  # the default decided
    scan = stack.call("POST", "/v1/consume", {"feature": "scan"}, key=member, Idempotency_Key="s1")
    assert scan.status == 200, scan.body
    assert balance(stack, owner) == 98


def test_a_policy_changed_between_calls_is_never_spent_under(stack: Stack) -> None:
    """Every gateway worker caches the allowing policy first; after the change, no spend goes through."""
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 1000)
    secret, _ = license_key(stack, owner)
    set_policy(stack, owner, {"id": "scan-only", "effect": "deny", "match": {"features": ["scan"]}})
    accepted = [consume(stack, secret, idempotency_key=f"before-{n}", Prefer="return=minimal") for n in range(16)]
    assert {answer.status for answer in accepted} == {200}
    assert balance(stack, owner) == 984

    set_policy(stack, owner, {"id": "freeze", "effect": "deny"})
    after = [consume(stack, secret, idempotency_key=f"after-{n}", Prefer="return=minimal") for n in range(16)]
    assert {(a.status, a.body["error"]["rule_id"]) for a in after} == {(403, "freeze")}
    assert balance(stack, owner) == 984

    replayed = consume(stack, secret, idempotency_key="before-3", Prefer="return=minimal")
    assert (replayed.status, replayed.body) == (200, accepted[3].body)  # its first answer, not the new rule
    assert balance(stack, owner) == 984

    set_policy(stack, owner)  # no rules again: allowed at once, wherever the policy was cached
    again = [consume(stack, secret, idempotency_key=f"again-{n}", Prefer="return=minimal") for n in range(8)]
    assert {answer.status for answer in again} == {200}
    assert balance(stack, owner) == 976
    stack.audit(tenant_id)


def test_the_decision_log_pages_exports_and_verifies(stack: Stack) -> None:
    tenant_id, owner = stack.signup()
    stack.grant(tenant_id, 100)
    member = stack.api_key(owner, "member")
    set_policy(stack, owner, {"id": "freeze", "effect": "deny"})
    for _ in range(5):
        assert consume(stack, member).status == 403

    first = stack.call("GET", "/v1/decisions?limit=2", key=owner)
    assert first.status == 200, first.body
    seen = list(first.body["decisions"])
    cursor = first.body["next_cursor"]
    while cursor:
        page = stack.call("GET", f"/v1/decisions?limit=2&cursor={cursor}", key=owner)
        assert page.status == 200, page.body
        seen += page.body["decisions"]
        cursor = page.body["next_cursor"]
    assert [d["seq"] for d in seen] == [1, 2, 3, 4, 5]
    assert seen[0]["prev_hash"] == "0" * 64
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(seen))

    exported = http("GET", f"{stack.api}/v1/decisions/export", headers={"Authorization": f"Bearer {owner}"})
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in str(exported.body).splitlines()] == seen

    _, other = stack.signup("Other")
    assert stack.call("GET", "/v1/decisions", key=other).body["decisions"] == []  # tenants are isolated
    forged = stack.call("GET", f"/v1/decisions?cursor={first.body['next_cursor']}", key=other)
    assert (forged.status, forged.body["error"]["field"]) == (422, "cursor")
    assert stack.call("GET", "/v1/decisions", key=member).status == 403
    assert stack.call("GET", "/v1/decisions", key=stack.api_key(owner, "auditor")).status == 200

    verified = stack.operator("--json", "decisions", "verify", "--tenant", tenant_id)
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["records"] == 5

    stack.client().update_item(  # an insider edits the third record in the table
        TableName=stack.table_name,
        Key={"pk": {"S": f"T#{tenant_id}#D"}, "sk": {"S": f"{3:012d}"}},
        UpdateExpression="SET actor = :actor",
        ExpressionAttributeValues={":actor": {"S": "api_key:ak_someone0else0000"}},
    )
    broken = stack.operator("--json", "decisions", "verify", "--tenant", tenant_id)
    assert broken.returncode == 1  # a check failed
    assert json.loads(broken.stdout)["broken"] == [{"tenant_id": tenant_id, "seq": 3}]
    assert "seq 3" in broken.stderr
