"""Actions over real HTTP on DynamoDB Local: allow, deny and pending; a quorum of two with self-approval and
a double review refused and a deny that denies; two approvers racing for the last approval; escalation and
expiry by the clock with two sweepers at once; redemption once (and not after the grant lapsed); a consume
that a rule requires approval for, refused until an approved action is redeemed. Every test ends with
``tollgate audit`` (holds exact) and the decision chain verified."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from tollgate_sdk import ActionNotApproved, HttpResponse, PollBackoff, Redemption, Timeout
from tollgate_sdk.transport import Urllib3Transport

from tests.integration.conftest import Response, Stack
from tests.integration.event_payloads import listed
from tests.integration.test_sdk import BOUND_S, license_key, sdk
from tollgate.approvals.rules_decisions import DecisionRecord, verify_chain

pytestmark = pytest.mark.integration
DEPLOY_COST = 5  # infra/catalog.json: feature "deploy" costs 5 tokens a use


def retried(send: Callable[[], Response], attempts: int = 6) -> Response:
    """As the SDK does: a 5xx (the machine under load) is sent again; the requests are idempotent."""
    answer = send()
    for attempt in range(attempts):
        if answer.status < 500:
            break
        time.sleep(0.2 * 2**attempt)
        answer = send()
    return answer


class Tenant:
    def __init__(self, stack: Stack, tokens: int = 1000) -> None:
        self.stack = stack
        self.id, self.owner = stack.signup()
        stack.grant(self.id, tokens)

    def key(self, role: str) -> tuple[str, str]:
        """A new API key: (id, secret)."""
        answer = self.stack.call("POST", "/v1/api-keys", {"name": role, "role": role}, key=self.owner)
        assert answer.status == 201, answer.body
        return str(answer.body["api_key"]["id"]), str(answer.body["api_key"]["secret"])

    def policy(self, rules: list[dict[str, Any]], default_effect: str = "allow") -> None:
        current = self.stack.call("GET", "/v1/policy", key=self.owner)
        assert current.status == 200, current.body
        version = str(current.body["policy"]["version"])
        answer = self.stack.call(
            "PUT", "/v1/policy", {"default_effect": default_effect, "rules": rules}, key=self.owner, If_Match=version
        )
        assert answer.status == 200, answer.body

    def ask(self, key: str, body: dict[str, Any], idempotency_key: str | None = None) -> Response:
        sent = idempotency_key or str(uuid.uuid4())
        return retried(lambda: self.stack.call("POST", "/v1/actions", body, key=key, Idempotency_Key=sent))

    def review(self, key: str, action_id: str, decision: str, comment: str = "") -> Response:
        body = {"decision": decision, "comment": comment}
        return retried(lambda: self.stack.call("POST", f"/v1/actions/{action_id}/reviews", body, key=key))

    def get(self, key: str, action_id: str) -> Response:
        return retried(lambda: self.stack.call("GET", f"/v1/actions/{action_id}", key=key))

    def consume(self, key: str, body: dict[str, Any], idempotency_key: str | None = None) -> Response:
        sent = idempotency_key or str(uuid.uuid4())
        return retried(lambda: self.stack.call("POST", "/v1/consume", body, key=key, Idempotency_Key=sent))

    def pool(self) -> tuple[int, int]:
        answer = self.stack.call("GET", "/v1/balance", key=self.owner)
        assert answer.status == 200, answer.body
        return int(answer.body["balance"]), int(answer.body["reserved"])

    def decisions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            path = "/v1/decisions?limit=200" + (f"&cursor={cursor}" if cursor else "")
            answer = self.stack.call("GET", path, key=self.owner)
            assert answer.status == 200, answer.body
            found.extend(answer.body["decisions"])
            cursor = answer.body["next_cursor"]
            if cursor is None:
                return found

    def told(self, kind: str) -> list[str]:
        """The action ids of the outbox events of one type, oldest first."""
        answer = self.stack.call("GET", f"/v1/events?type={kind}", key=self.owner)
        assert answer.status == 200, answer.body
        events = sorted(listed(answer.body["events"]), key=lambda e: (e["created_at"], e["id"]))
        return [e["data"]["action_id"] for e in events]

    def audited(self) -> None:
        """Holds exact (``tollgate audit``) and the decision chain verifies (``tollgate decisions verify``, and
        again here from what ``GET /v1/decisions`` gives anyone)."""
        self.stack.audit(self.id)
        verified = self.stack.operator("--json", "decisions", "verify", "--tenant", self.id)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        records = [DecisionRecord(**record) for record in self.decisions()]
        assert records, "every action decision is recorded"
        assert verify_chain(records) is None


class PollSeen(Urllib3Transport):
    """The SDK's own transport, telling when the SDK first polls an action (``GET /v1/actions/{id}``)."""

    def __init__(self) -> None:
        super().__init__()
        self.first = threading.Event()
        self.count = 0

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: Timeout
    ) -> HttpResponse:
        answer = super().request(method, url, headers, body, timeout)
        if method == "GET" and "/v1/actions/" in url:
            self.count += 1
            self.first.set()
        return answer


def approval(approvers: dict[str, Any], quorum: int = 2, **extra: Any) -> dict[str, Any]:
    return {"approvers": approvers, "quorum": quorum, "timeout_s": 900, **extra}


def test_allow_deny_and_pending(stack: Stack) -> None:
    tenant = Tenant(stack)
    _, member = tenant.key("member")
    tenant.policy(
        [
            {"id": "no-scans", "effect": "deny", "match": {"features": ["scan"]}},
            {
                "id": "prod-deploys",
                "effect": "require_approval",
                "match": {"actions": ["deploy"], "environments": ["production"], "min_tokens": 101},
                "approval": approval({"roles": ["approver"]}),
            },
        ]
    )
    small = tenant.ask(member, {"action": "run", "feature": "build", "quantity": 10})
    assert small.status == 200, small.body
    assert (small.body["action"]["status"], small.body["action"]["held"]) == ("approved", 10)
    assert small.body["action"]["rule_id"] is None  # the default effect allowed it

    denied = tenant.ask(member, {"action": "run", "feature": "scan", "quantity": 1})
    assert denied.status == 403, denied.body
    assert (denied.body["error"]["code"], denied.body["error"]["rule_id"]) == ("ACTION_DENIED", "no-scans")

    key = str(uuid.uuid4())
    body = {"action": "deploy", "feature": "deploy", "quantity": 30, "environment": "production", "reason": "4.2"}
    pending = tenant.ask(member, body, key)
    assert pending.status == 202, pending.body
    action = pending.body["action"]
    assert (action["status"], action["held"], action["quorum"], action["approvals"]) == ("pending", 150, 2, 0)
    assert action["rule_id"] == "prod-deploys" and action["expires_at"] is not None
    again = tenant.ask(member, body, key)  # a retry: the first answer, nothing held twice
    assert (again.status, again.body["action"]["id"]) == (202, action["id"])
    assert tenant.pool() == (1000, 160)

    too_big = tenant.ask(member, {"action": "run", "feature": "build", "quantity": 900})
    assert (too_big.status, too_big.body["error"]["code"]) == (402, "INSUFFICIENT_TOKENS")
    assert tenant.told("action.pending") == [action["id"]]
    events = [record["event"] for record in tenant.decisions()]
    assert events == ["action.allowed", "action.denied", "action.pending"]
    tenant.audited()


def test_a_quorum_of_two_others_and_a_deny_that_denies(stack: Stack) -> None:
    tenant = Tenant(stack)
    member_id, member = tenant.key("member")
    (_, alice), (_, bob), (_, carol) = tenant.key("approver"), tenant.key("approver"), tenant.key("approver")
    _, billing = tenant.key("billing")
    # the requester is named an approver too: it still never reviews its own action
    tenant.policy(
        [
            {
                "id": "deploys",
                "effect": "require_approval",
                "match": {"actions": ["deploy"]},
                "approval": approval({"roles": ["approver"], "api_key_ids": [member_id]}),
            }
        ]
    )
    first = tenant.ask(member, {"action": "deploy", "feature": "deploy", "quantity": 2})
    assert first.status == 202, first.body
    action_id = first.body["action"]["id"]

    own = tenant.review(member, action_id, "approve", "mine")
    assert (own.status, own.body["error"]["code"]) == (403, "SELF_REVIEW")
    stranger = tenant.review(billing, action_id, "approve")
    assert (stranger.status, stranger.body["error"]["code"]) == (403, "NOT_AN_APPROVER")
    queue = stack.call("GET", "/v1/actions?status=pending&reviewable=true", key=alice)
    assert [a["id"] for a in queue.body["actions"]] == [action_id], queue.body

    one = tenant.review(alice, action_id, "approve", "looks fine")
    assert (one.status, one.body["action"]["status"], one.body["action"]["approvals"]) == (200, "pending", 1)
    twice = tenant.review(alice, action_id, "approve", "again")
    assert (twice.status, twice.body["error"]["code"]) == (409, "ALREADY_REVIEWED")
    assert stack.call("GET", "/v1/actions?reviewable=true", key=alice).body["actions"] == []
    two = tenant.review(bob, action_id, "approve")
    assert (two.status, two.body["action"]["status"], two.body["action"]["approvals"]) == (200, "approved", 2)
    late = tenant.review(carol, action_id, "deny")
    assert (late.status, late.body["error"]["code"]) == (409, "ACTION_RESOLVED")

    second = tenant.ask(member, {"action": "deploy", "feature": "deploy", "quantity": 4})
    assert tenant.pool() == (1000, 30)
    assert tenant.review(alice, second.body["action"]["id"], "approve").status == 200
    no = tenant.review(bob, second.body["action"]["id"], "deny", "not on a Friday")
    assert (no.status, no.body["action"]["status"], no.body["action"]["held"]) == (200, "denied", 0)
    assert tenant.pool() == (1000, 10)  # only the approved one still holds
    assert tenant.told("action.denied") == [second.body["action"]["id"]]
    first_page = stack.call("GET", "/v1/actions?limit=1", key=tenant.owner)
    assert first_page.status == 200 and first_page.body["next_cursor"], first_page.body
    cursor = first_page.body["next_cursor"]
    rest = stack.call("GET", f"/v1/actions?limit=5&cursor={cursor}", key=tenant.owner)
    newest_first = [a["id"] for a in first_page.body["actions"] + rest.body["actions"]]
    assert newest_first == [second.body["action"]["id"], action_id], rest.body
    mine = stack.call("GET", "/v1/actions?status=denied", key=member).body["actions"]
    assert [a["id"] for a in mine] == [second.body["action"]["id"]]
    forged = stack.call("GET", f"/v1/actions?cursor={cursor[:-2]}xx", key=tenant.owner)
    assert (forged.status, forged.body["error"]["field"]) == (422, "cursor")
    tenant.audited()


def test_two_approvers_racing_for_the_last_approval_resolve_it_once(stack: Stack) -> None:
    tenant = Tenant(stack)
    _, member = tenant.key("member")
    approvers = [tenant.key("approver")[1] for _ in range(3)]
    tenant.policy(
        [
            {
                "id": "all",
                "effect": "require_approval",
                "match": {"actions": ["deploy"]},
                "approval": approval({"roles": ["approver"]}),
            }
        ]
    )
    for _ in range(3):
        asked = tenant.ask(member, {"action": "deploy", "feature": "deploy", "quantity": 1})
        action_id = asked.body["action"]["id"]
        assert tenant.review(approvers[0], action_id, "approve").status == 200
        barrier = threading.Barrier(2)

        def race(key: str, action_id: str = action_id, barrier: threading.Barrier = barrier) -> int:
            barrier.wait()
            return tenant.review(key, action_id, "approve").status

        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(pool.map(race, approvers[1:]))
        assert statuses == [200, 409], statuses
        final = tenant.get(member, action_id).body["action"]
        assert (final["status"], final["approvals"]) == ("approved", 2)
    assert len(tenant.told("action.approved")) == 3
    assert [r["event"] for r in tenant.decisions()].count("action.approved") == 3
    tenant.audited()


def test_escalation_and_expiry_by_the_clock_with_two_sweepers_at_once(stack: Stack) -> None:
    tenant = Tenant(stack)
    _, member = tenant.key("member")
    _, alice = tenant.key("approver")
    _, admin = tenant.key("admin")
    tenant.policy(
        [
            {
                "id": "prod",
                "effect": "require_approval",
                "match": {"actions": ["deploy"]},
                "approval": approval({"roles": ["approver"]}, escalate_after_s=600, escalate_to={"roles": ["admin"]}),
            }
        ]
    )
    escalating = tenant.ask(member, {"action": "deploy", "feature": "deploy", "quantity": 2}).body["action"]
    expiring = tenant.ask(member, {"action": "deploy", "feature": "deploy", "quantity": 4}).body["action"]
    early = tenant.review(admin, escalating["id"], "approve")
    assert (early.status, early.body["error"]["code"]) == (403, "NOT_AN_APPROVER")
    assert tenant.review(alice, escalating["id"], "approve").status == 200

    stack.advance(600)

    def sweep(_: int) -> Response:
        return retried(lambda: stack.invoke("SweeperFunction"))

    with ThreadPoolExecutor(2) as pool:
        swept = list(pool.map(sweep, range(2)))
    assert all(s.status == 200 for s in swept), [s.body for s in swept]
    assert tenant.get(member, escalating["id"]).body["action"]["escalated"] is True
    assert sorted(tenant.told("action.escalated")) == sorted([escalating["id"], expiring["id"]])  # once each
    approved = tenant.review(admin, escalating["id"], "approve", "escalated to me")
    assert (approved.status, approved.body["action"]["status"]) == (200, "approved")
    assert approved.body["action"]["reviews"][-1]["escalation"] is True
    assert tenant.pool() == (1000, 30)

    stack.advance(300)  # the other one's timeout (900 s) passes
    with ThreadPoolExecutor(2) as pool:
        swept = list(pool.map(sweep, range(2)))
    assert all(s.status == 200 for s in swept), [s.body for s in swept]
    gone = tenant.get(member, expiring["id"]).body["action"]
    assert (gone["status"], gone["held"]) == ("expired", 0)
    assert tenant.pool() == (1000, 10)  # released once: the approved one (10) still holds
    assert tenant.told("action.expired") == [expiring["id"]]
    expired_records = [r for r in tenant.decisions() if r["event"] == "action.expired"]
    assert [r["action_id"] for r in expired_records] == [expiring["id"]]
    tenant.audited()


def test_an_approved_action_is_redeemed_once_and_not_after_its_grant(stack: Stack) -> None:
    tenant = Tenant(stack)
    _, member = tenant.key("member")
    granted = tenant.ask(member, {"action": "run", "feature": "deploy", "quantity": 10})
    assert granted.status == 200, granted.body
    action_id = granted.body["action"]["id"]
    wrong = tenant.consume(member, {"feature": "build", "quantity": 1, "action_id": action_id})
    assert (wrong.status, wrong.body["error"]["field"]) == (422, "feature")
    key = str(uuid.uuid4())
    spent = tenant.consume(member, {"feature": "deploy", "quantity": 4, "action_id": action_id}, key)
    assert spent.status == 200, spent.body
    assert (spent.body["charged"], spent.body["action_id"]) == (20, action_id)
    replay = tenant.consume(member, {"feature": "deploy", "quantity": 4, "action_id": action_id}, key)
    assert (replay.status, replay.body) == (200, spent.body)
    second = tenant.consume(member, {"feature": "deploy", "quantity": 1, "action_id": action_id})
    assert (second.status, second.body["error"]["code"]) == (409, "ACTION_NOT_APPROVED")
    assert tenant.pool() == (980, 0)  # charged 20 of the 50 held; the rest released

    lapsing = tenant.ask(member, {"action": "run", "feature": "deploy", "quantity": 2}).body["action"]
    stack.advance(601)  # past the default grant_ttl_s (600 s)
    late = tenant.consume(member, {"feature": "deploy", "quantity": 1, "action_id": lapsing["id"]})
    assert (late.status, late.body["error"]["code"]) == (409, "GRANT_EXPIRED")
    assert tenant.pool() == (980, 0)
    cancelled = tenant.ask(member, {"action": "run", "feature": "deploy", "quantity": 3}).body["action"]
    gone = stack.call("DELETE", f"/v1/actions/{cancelled['id']}", key=member)
    assert (gone.status, gone.body["action"]["status"]) == (200, "cancelled")
    assert tenant.pool() == (980, 0)
    events = [r["event"] for r in tenant.decisions()]
    assert events.count("action.redeemed") == 1 and "action.cancelled" in events
    tenant.audited()


def test_a_consume_that_needs_approval_is_refused_until_an_approved_action_is_redeemed(stack: Stack) -> None:
    tenant = Tenant(stack)
    _, member = tenant.key("member")
    (_, alice), (_, bob) = tenant.key("approver"), tenant.key("approver")
    tenant.policy(
        [
            {
                "id": "deploys-need-approval",
                "effect": "require_approval",
                "match": {"features": ["deploy"]},
                "approval": approval({"roles": ["approver"]}),
            }
        ]
    )
    refused = tenant.consume(member, {"feature": "deploy", "quantity": 2})
    assert refused.status == 403, refused.body
    assert (refused.body["error"]["code"], refused.body["error"]["rule_id"]) == (
        "APPROVAL_REQUIRED",
        "deploys-need-approval",
    )
    asked = tenant.ask(member, {"action": "consume", "feature": "deploy", "quantity": 2})
    assert asked.status == 202, asked.body
    action_id = asked.body["action"]["id"]
    early = tenant.consume(member, {"feature": "deploy", "quantity": 2, "action_id": action_id})
    assert (early.status, early.body["error"]["code"]) == (409, "ACTION_NOT_APPROVED")
    assert tenant.review(alice, action_id, "approve").status == 200
    assert tenant.review(bob, action_id, "approve").body["action"]["status"] == "approved"
    spent = tenant.consume(member, {"feature": "deploy", "quantity": 2, "action_id": action_id})
    assert (spent.status, spent.body["charged"]) == (200, 10)
    assert tenant.pool() == (990, 0)
    tenant.audited()


def test_the_sdk_asks_waits_for_its_approvers_and_redeems_once(stack: Stack) -> None:
    tenant = Tenant(stack)
    (_, alice), (_, bob) = tenant.key("approver"), tenant.key("approver")
    tenant.policy(
        [
            {
                "id": "deploys",
                "effect": "require_approval",
                "match": {"actions": ["deploy"]},
                "approval": approval({"roles": ["approver"]}),
            }
        ]
    )
    poll = PollBackoff(first_s=0.2, factor=1.5, cap_s=1.0)
    polled = PollSeen()
    tg = sdk(license_key(stack, tenant.owner), stack.api, stack, action_poll=poll, transport=polled)
    action = tg.request_action("deploy", feature="deploy", quantity=3, reason="release 4.2")
    assert (action.status, action.view.held) == ("pending", 15)

    def approve() -> None:  # once the SDK has polled and seen it pending: the approvals come while it waits
        assert polled.first.wait(BOUND_S), "the SDK never polled"
        assert tenant.review(alice, action.id, "approve").status == 200
        assert tenant.review(bob, action.id, "approve").status == 200

    approving = threading.Thread(target=approve)
    approving.start()
    assert action.wait(timeout_s=BOUND_S) == "approved"
    approving.join(BOUND_S)
    assert polled.count >= 2, "polled while pending, then saw it approved"
    spent = action.redeem()
    assert isinstance(spent, Redemption)  # typed, as consume() is
    assert (spent.charged, spent.action_id, spent.entry_id.startswith("le_")) == (15, action.id, True)
    assert action.view.expires_at is not None and action.view.expires_at.tzinfo is not None
    with pytest.raises(ActionNotApproved):
        action.redeem()  # once
    assert tenant.pool() == (985, 0)
    tenant.audited()


def test_break_glass_proceeds_at_once_flagged_and_the_approvers_are_told(stack: Stack) -> None:
    tenant = Tenant(stack)
    _, member = tenant.key("member")
    tenant.policy(
        [
            {
                "id": "prod",
                "effect": "require_approval",
                "match": {"actions": ["deploy"]},
                "approval": approval({"roles": ["approver"]}),
                "break_glass": {"roles": ["owner"]},
            }
        ]
    )
    body = {"action": "deploy", "feature": "deploy", "quantity": 2, "break_glass": True, "reason": "outage"}
    refused = tenant.ask(member, body)
    assert (refused.status, refused.body["error"]["code"]) == (403, "BREAK_GLASS_NOT_ALLOWED")
    glass = tenant.ask(tenant.owner, body)
    assert glass.status == 200, glass.body
    action = glass.body["action"]
    assert (action["status"], action["break_glass"], action["held"], action["approvals"]) == ("approved", True, 10, 0)
    assert tenant.told("action.approved") == [action["id"]]
    assert [r["event"] for r in tenant.decisions()] == ["action.break_glass"]
    assert tenant.consume(tenant.owner, {"feature": "deploy", "quantity": 2, "action_id": action["id"]}).status == 200
    tenant.audited()
