"""The spending pipeline over real HTTP on DynamoDB Local (SPEC.md, "Spending: one pipeline").

Every kind of spend (consume, a redemption of an approved action, opening a lease, extending one, opening
an allowance, renewing one, asking for an action that names a feature) meets every check: a suspended
tenant, a feature the key is not entitled to, a region out of the key's scope, the tenant's policy at the
hold's total, a lot past its end expired first, a pool that cannot cover it. Winding down (a report, a final
report, a check-in, a cancellation) goes through for a suspended tenant, a revoked key and a deny-all
policy, and charges only what was used. Each test ends with ``tollgate audit``.

Two combinations cannot be reached over HTTP, and ``tests/unit/test_spending_pipeline.py`` proves them for
every kind on the pipeline itself: a lease extension and an allowance renewal name no feature or region of
their own (the hold's feature was in scope when it opened, and a key's scope never changes), and only an
ask names a project or an environment (the other kinds spend in the key's own)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import Response, Stack

pytestmark = pytest.mark.integration
BUILD_PER_HOUR = 10  # infra/catalog.json: "build" costs 1 token a use, 10 an hour
HOUR = 3600


class Tenant:
    def __init__(self, stack: Stack, tokens: int = 1000, **scope: Any) -> None:
        self.stack = stack
        self.id, self.owner = stack.signup()
        if tokens:
            stack.grant(self.id, tokens)
        made = stack.call("POST", "/v1/keys", {"name": "runner", "regions": ["us-east-1"], **scope}, key=self.owner)
        assert made.status == 201, made.body
        self.key, self.key_id = str(made.body["secret"]), str(made.body["key"]["id"])

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Response:
        return self.stack.call(method, path, body, key=self.key, **headers)

    def spend(self, path: str, body: dict[str, Any], **headers: str) -> Response:
        return self.call("POST", path, body, Idempotency_Key=uuid.uuid4().hex, **headers)

    def policy(self, default: str = "allow", *rules: dict[str, Any]) -> None:
        version = self.stack.call("GET", "/v1/policy", key=self.owner).body["policy"]["version"]
        body = {"default_effect": default, "rules": list(rules)}
        answer = self.stack.call("PUT", "/v1/policy", body, key=self.owner, If_Match=f'"{version}"')
        assert answer.status == 200, answer.body

    def suspend(self) -> None:
        done = self.stack.operator("suspend", "--tenant", self.id)
        assert done.returncode == 0, done.stderr

    def revoke(self) -> None:
        answer = self.stack.call("DELETE", f"/v1/keys/{self.key_id}", key=self.owner)
        assert answer.status == 200, answer.body

    def pool(self) -> tuple[int, int]:
        answer = self.stack.call("GET", "/v1/balance", key=self.owner)
        assert answer.status == 200, answer.body
        return int(answer.body["balance"]), int(answer.body["reserved"])

    def ledger(self) -> list[dict[str, Any]]:
        answer = self.stack.call("GET", "/v1/ledger?limit=200", key=self.owner)
        assert answer.status == 200, answer.body
        return list(answer.body["entries"])

    def audited(self) -> None:
        self.stack.audit(self.id)


def refused(answer: Response, status: int, code: str) -> None:
    assert answer.status == status, answer.body
    assert answer.body["error"]["code"] == code, answer.body


# ------------------------------------------------------------------------------------------ the seven kinds
@dataclass(frozen=True)
class Kind:
    """One kind of spend: ``prepare`` makes what it spends into (a lease, an allowance, an approved action),
    before the test changes the tenant; ``act`` spends ``tokens`` in all (the hold's total after it)."""

    name: str
    act: Callable[[Tenant, Any, int, str, dict[str, str]], Response]
    prepare: Callable[[Tenant], Any] = lambda tenant: None
    names_feature: bool = True  # the request names the feature it spends on
    ok: int = 200  # the status of a spend that goes through


def _consume(t: Tenant, _: Any, tokens: int, feature: str, headers: dict[str, str]) -> Response:
    return t.spend("/v1/consume", {"feature": feature, "quantity": tokens}, **headers)


def _approved_action(t: Tenant) -> str:
    asked = t.spend("/v1/actions", {"action": "run", "feature": "build", "quantity": 10})
    assert (asked.status, asked.body["action"]["status"]) == (200, "approved"), asked.body
    return str(asked.body["action"]["id"])


def _redeem(t: Tenant, action_id: str, tokens: int, feature: str, headers: dict[str, str]) -> Response:
    return t.spend("/v1/consume", {"feature": feature, "quantity": min(tokens, 10), "action_id": action_id}, **headers)


def _open_lease(t: Tenant, _: Any, tokens: int, feature: str, headers: dict[str, str]) -> Response:
    return t.spend("/v1/leases", {"feature": feature, "duration_s": tokens // BUILD_PER_HOUR * HOUR}, **headers)


def _small_lease(t: Tenant) -> str:
    opened = t.spend("/v1/leases", {"feature": "build", "duration_s": 1800})
    assert (opened.status, opened.body["lease"]["reserved"]) == (201, BUILD_PER_HOUR), opened.body
    return str(opened.body["lease"]["id"])


def _extend(t: Tenant, lease_id: str, tokens: int, _: str, headers: dict[str, str]) -> Response:
    extend_s = tokens // BUILD_PER_HOUR * HOUR - 30  # the lease is 30 s old when the test extends it
    return t.call("POST", f"/v1/leases/{lease_id}/heartbeat", {"extend_s": extend_s}, **headers)


def _open_allowance(t: Tenant, _: Any, tokens: int, feature: str, headers: dict[str, str]) -> Response:
    return t.spend("/v1/allowances", {"feature": feature, "tokens": tokens, "ttl_s": 3600}, **headers)


def _small_allowance(t: Tenant, block: int = 10) -> tuple[str, int]:
    opened = t.spend("/v1/allowances", {"feature": "build", "tokens": block, "ttl_s": 3600})
    assert opened.status == 201, opened.body
    return str(opened.body["allowance"]["id"]), block


def _renew(t: Tenant, allowance: tuple[str, int], tokens: int, _: str, headers: dict[str, str]) -> Response:
    # the whole block used and renewed: the hold's total after it is the block, whatever ``tokens`` asks
    allowance_id, block = allowance
    return t.call("POST", f"/v1/allowances/{allowance_id}/settle", {"used": block, "renew": True}, **headers)


def _ask(t: Tenant, _: Any, tokens: int, feature: str, headers: dict[str, str]) -> Response:
    return t.spend("/v1/actions", {"action": "run", "feature": feature, "quantity": tokens}, **headers)


KINDS = [
    Kind("consume", _consume),
    Kind("redemption", _redeem, _approved_action),
    Kind("lease", _open_lease, ok=201),
    Kind("lease extension", _extend, _small_lease, names_feature=False),
    Kind("allowance", _open_allowance, ok=201),
    Kind("allowance renewal", _renew, _small_allowance, names_feature=False),
    Kind("action", _ask),
]
BY_NAME = {kind.name: kind for kind in KINDS}
ALL = [pytest.param(kind, id=kind.name) for kind in KINDS]


def act(kind: Kind, t: Tenant, ctx: Any, tokens: int = 20, feature: str = "build", **headers: str) -> Response:
    return kind.act(t, ctx, tokens, feature, headers)


# ------------------------------------------------------------------------------------------------ checks
@pytest.mark.parametrize("kind", ALL)
def test_a_suspended_tenant_cannot_spend_or_grow_a_hold(stack: Stack, kind: Kind) -> None:
    t = Tenant(stack)
    ctx = kind.prepare(t)
    before = t.pool()
    t.suspend()
    refused(act(kind, t, ctx), 403, "TENANT_SUSPENDED")
    assert t.pool() == before
    t.audited()


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.name) for k in KINDS if k.names_feature])
def test_a_feature_the_key_is_not_entitled_to_is_refused(stack: Stack, kind: Kind) -> None:
    t = Tenant(stack, features=["build"])
    ctx = kind.prepare(t)
    before = t.pool()
    refused(act(kind, t, ctx, feature="deploy"), 403, "FEATURE_NOT_ENTITLED")
    assert t.pool() == before
    t.audited()


@pytest.mark.parametrize("kind", ALL)
def test_a_region_out_of_the_keys_scope_is_refused(stack: Stack, kind: Kind) -> None:
    t = Tenant(stack)  # scoped to us-east-1 (the serving region)
    ctx = kind.prepare(t)
    before = t.pool()
    refused(act(kind, t, ctx, X_Tollgate_Region="eu-west-1"), 403, "REGION_NOT_ALLOWED")
    assert t.pool() == before
    assert act(kind, t, ctx, X_Tollgate_Region="us-east-1").status == kind.ok
    t.audited()


def test_an_action_out_of_the_keys_region_is_refused_and_never_redeemed(stack: Stack) -> None:
    """Former defect: a key scoped to us-east-1 got an eu-west-1 action approved, and redeemed it where a
    direct consume is refused."""
    t = Tenant(stack)
    direct = t.spend("/v1/consume", {"feature": "build", "quantity": 2}, X_Tollgate_Region="eu-west-1")
    refused(direct, 403, "REGION_NOT_ALLOWED")
    asked = t.spend("/v1/actions", {"action": "consume", "feature": "build", "quantity": 2, "region": "eu-west-1"})
    refused(asked, 403, "REGION_NOT_ALLOWED")
    assert t.pool() == (1000, 0)  # nothing held for it
    listed = t.call("GET", "/v1/actions")
    assert (listed.status, listed.body["actions"]) == (200, []), listed.body
    at_home = t.spend("/v1/actions", {"action": "consume", "feature": "build", "quantity": 2, "region": "us-east-1"})
    assert at_home.status == 200, at_home.body
    t.audited()


def test_an_action_out_of_the_keys_project_or_environment_is_refused(stack: Stack) -> None:
    owner_tenant = Tenant(stack, tokens=0)
    project = stack.call("POST", "/v1/projects", {"name": "p"}, key=owner_tenant.owner).body["project"]["id"]
    other = stack.call("POST", "/v1/projects", {"name": "q"}, key=owner_tenant.owner).body["project"]["id"]
    stack.grant(owner_tenant.id, 1000)
    scope = {"name": "scoped", "regions": ["us-east-1"], "project_id": project, "environment": "production"}
    made = stack.call("POST", "/v1/keys", scope, key=owner_tenant.owner)
    assert made.status == 201, made.body
    key = str(made.body["secret"])

    def ask(**where: str) -> Response:
        body = {"action": "run", "feature": "build", "quantity": 2, **where}
        return stack.call("POST", "/v1/actions", body, key=key, Idempotency_Key=uuid.uuid4().hex)

    refused(ask(project_id=other), 403, "PROJECT_NOT_ALLOWED")
    refused(ask(environment="staging"), 403, "ENVIRONMENT_NOT_ALLOWED")
    assert owner_tenant.pool() == (1000, 0)
    mine = ask(project_id=project, environment="production")
    assert (mine.status, mine.body["action"]["project_id"]) == (200, project), mine.body
    owner_tenant.audited()


@pytest.mark.parametrize("kind", ALL)
def test_the_policy_meets_every_kind_at_its_total(stack: Stack, kind: Kind) -> None:
    """deny: 403 ACTION_DENIED; require_approval: 403 APPROVAL_REQUIRED, except an ask (pending for its
    approvers, 202) and a redemption (governed by the approval it redeems: it goes through)."""
    t = Tenant(stack)
    first, second = kind.prepare(t), kind.prepare(t)
    t.policy("deny")
    before = t.pool()
    denied = act(kind, t, first)
    if kind.name == "redemption":
        assert denied.status == 200, denied.body
    else:
        refused(denied, 403, "ACTION_DENIED")
        assert t.pool() == before
    approvers = {"approvers": {"roles": ["approver"]}, "quorum": 1, "timeout_s": 600}
    t.policy("allow", {"id": "big", "effect": "require_approval", "match": {"min_tokens": 10}, "approval": approvers})
    asked = act(kind, t, second)
    if kind.name == "redemption":
        assert asked.status == 200, asked.body
    elif kind.name == "action":
        assert (asked.status, asked.body["action"]["status"]) == (202, "pending"), asked.body
    else:
        refused(asked, 403, "APPROVAL_REQUIRED")
        assert asked.body["error"]["rule_id"] == "big"
    t.audited()


def test_a_hold_grows_only_under_the_policy(stack: Stack) -> None:
    """Former defect: after a deny-all policy, an allowance settled with ``renew: true`` and a lease
    heartbeat with ``extend_s`` took 10 -> 240 tokens."""
    t = Tenant(stack)
    lease_id, (allowance_id, _) = _small_lease(t), _small_allowance(t)
    assert t.pool() == (1000, 20)
    t.policy("deny")
    grown = t.call("POST", f"/v1/leases/{lease_id}/heartbeat", {"extend_s": 24 * HOUR - 60})
    refused(grown, 403, "ACTION_DENIED")
    renewed = t.call("POST", f"/v1/allowances/{allowance_id}/settle", {"used": 3, "renew": True})
    refused(renewed, 403, "ACTION_DENIED")
    assert t.pool() == (1000, 20)
    # a rule on the total: a lease of 240 tokens needs approval, whether opened so or grown to it
    approvers = {"approvers": {"roles": ["approver"]}, "quorum": 1, "timeout_s": 600}
    rule = {"id": "long", "effect": "require_approval", "match": {"actions": ["lease"], "min_tokens": 100}}
    t.policy("allow", {**rule, "approval": approvers})
    refused(t.call("POST", f"/v1/leases/{lease_id}/heartbeat", {"extend_s": 24 * HOUR - 60}), 403, "APPROVAL_REQUIRED")
    refused(t.spend("/v1/leases", {"feature": "build", "duration_s": 24 * HOUR}), 403, "APPROVAL_REQUIRED")
    kept = t.call("POST", f"/v1/leases/{lease_id}/heartbeat", {"extend_s": 2 * HOUR - 60})
    assert (kept.status, kept.body["lease"]["reserved"]) == (200, 2 * BUILD_PER_HOUR), kept.body
    t.audited()


# what expiry takes of the 50: what is left of the lot after the holds opened before its end (they are
# counted as committed, soonest lot first; pool/rules_expiry.py)
EXPIRED = {"lease extension": 40, "allowance renewal": 20, "redemption": 40}


@pytest.mark.parametrize("kind", ALL)
def test_a_lot_past_its_end_is_expired_before_the_spend(stack: Stack, kind: Kind) -> None:
    """10 tokens for good and 50 that end after a day. Past the day, each kind asks for more than is left
    once the lot has expired and less than the pool would have without the expiry: it is refused (402), as
    the lot was expired first, never spent. A redemption is charged from the hold its approval keeps: it goes
    through, after the expiry."""
    t = Tenant(stack, tokens=0)
    stack.grant(t.id, 10, "for good")
    stack.grant(t.id, 50, "for a day", "--valid-days", "1")
    stack.advance(86_400 - 60)
    ctx = _small_allowance(t, 30) if kind.name == "allowance renewal" else kind.prepare(t)
    stack.advance(61)  # the 50 are past their end; the holds are 61 s old
    answer = act(kind, t, ctx, tokens=30)
    if kind.name == "redemption":
        assert answer.status == 200, answer.body
    else:
        refused(answer, 402, "INSUFFICIENT_TOKENS")
    expired = [e for e in t.ledger() if e["kind"] == "lot_expiry"]
    assert [e["amount"] for e in expired] == [-EXPIRED.get(kind.name, 50)], expired
    t.audited()


@pytest.mark.parametrize("kind", [pytest.param(k, id=k.name) for k in KINDS if k.name != "redemption"])
def test_a_spend_the_pool_cannot_cover_is_refused_402(stack: Stack, kind: Kind) -> None:
    """A redemption is charged from the hold its approval keeps: it never lacks tokens (its ask is refused)."""
    t = Tenant(stack, tokens=15)
    ctx = kind.prepare(t)
    before = t.pool()
    if kind.name == "allowance renewal":
        t.spend("/v1/consume", {"feature": "build", "quantity": 5})  # 15 - 10 held - 5: nothing to renew with
        before = t.pool()
    refused(act(kind, t, ctx, tokens=30), 402, "INSUFFICIENT_TOKENS")
    assert t.pool() == before
    t.audited()


# ---------------------------------------------------------------------------------------- winding down
@dataclass(frozen=True)
class WindDown:
    """A way a hold ends or reports its use. ``end`` answers the charge it made; ``charged`` is what was used."""

    name: str
    open: Callable[[Tenant], str]
    end: Callable[[Tenant, str], Response]
    charged: int
    held_after: int = 0
    retried: int = 200  # what a second call answers (a cancelled action: 409, nothing left to cancel)


def _allowance_of_100(t: Tenant) -> str:
    opened = t.spend("/v1/allowances", {"feature": "build", "tokens": 100, "ttl_s": 3600})
    assert opened.status == 201, opened.body
    return str(opened.body["allowance"]["id"])


def _lease_of_3_hours(t: Tenant) -> str:
    opened = t.spend("/v1/leases", {"feature": "build", "duration_s": 3 * HOUR})
    assert (opened.status, opened.body["lease"]["reserved"]) == (201, 3 * BUILD_PER_HOUR), opened.body
    return str(opened.body["lease"]["id"])


def _report(final: bool) -> Callable[[Tenant, str], Response]:
    def end(t: Tenant, allowance_id: str) -> Response:
        return t.call("POST", f"/v1/allowances/{allowance_id}/settle", {"used": 5, "final": final})

    return end


WIND_DOWNS = [
    WindDown("final report", _allowance_of_100, _report(True), charged=5),
    WindDown("report", _allowance_of_100, _report(False), charged=5, held_after=95),
    WindDown("check-in", _lease_of_3_hours, lambda t, i: t.call("DELETE", f"/v1/leases/{i}"), charged=10),
    WindDown(
        "cancel",
        lambda t: _approved_action(t),
        lambda t, i: t.call("DELETE", f"/v1/actions/{i}"),
        charged=0,
        retried=409,
    ),
]
CONDITIONS: dict[str, Callable[[Tenant], None]] = {
    "suspended tenant": Tenant.suspend,
    "revoked key": Tenant.revoke,
    "deny-all policy": lambda t: t.policy("deny"),
}


@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("wind_down", [pytest.param(w, id=w.name) for w in WIND_DOWNS])
def test_winding_down_is_never_refused_and_charges_what_was_used(
    stack: Stack, wind_down: WindDown, condition: str
) -> None:
    """Former defect: a suspended tenant's license key could not make its final allowance report or check a
    lease in, so 5 uses were charged as 100 when the allowance ran out."""
    t = Tenant(stack)
    hold = wind_down.open(t)
    CONDITIONS[condition](t)
    ended = wind_down.end(t, hold)
    assert ended.status == 200, ended.body
    assert t.pool() == (1000 - wind_down.charged, wind_down.held_after)
    again = wind_down.end(t, hold)  # a retry charges nothing more
    assert again.status == wind_down.retried, again.body
    assert t.pool() == (1000 - wind_down.charged, wind_down.held_after)
    t.audited()
