"""request_action: one Idempotency-Key per call, reused on retries; wait() polls with backoff until the
action is decided and gives up at its deadline; redeem() spends it once (one key, every retry); typed
errors per code, with the rule id of a denial."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from sdk_fakes import FakeClock, FakeTransport, Sent, answer, client, error

import tollgate_sdk as sdk
from tollgate_sdk.transport import HttpResponse

ACTION_ID = "act_0000000000000001"


def view(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "action": {
            "id": ACTION_ID,
            "action": "deploy",
            "status": status,
            "feature": "build",
            "quantity": 5,
            "rule_id": "prod",
            "expires_at": "2027-01-15T08:15:00Z",
            **extra,
        }
    }


class ActionService:
    """Pending for ``polls`` reads, then ``final``; counts redemptions by Idempotency-Key."""

    def __init__(self, polls: int = 2, final: str = "approved") -> None:
        self.polls = polls
        self.final = final
        self.reads = 0
        self.redeemed: dict[str, int] = {}

    def __call__(self, sent: Sent) -> HttpResponse | Exception:
        path = sent.url.split("tollgate.test")[1]
        if sent.method == "POST" and path == "/v1/actions":
            return answer(202, view("pending"))
        if sent.method == "GET" and path == f"/v1/actions/{ACTION_ID}":
            self.reads += 1
            return answer(200, view("pending" if self.reads <= self.polls else self.final))
        if sent.method == "POST" and path == "/v1/consume":
            key = sent.headers["Idempotency-Key"]
            self.redeemed[key] = self.redeemed.get(key, 0) + 1
            return answer(200, {"charged": 5 * sent.body["quantity"], "entry_id": "le_1", "action_id": ACTION_ID})
        if sent.method == "DELETE":
            return answer(200, view("cancelled"))
        return error(404, "NOT_FOUND")


def test_request_wait_and_redeem_once() -> None:
    clock = FakeClock()
    service = ActionService(polls=3)
    transport = FakeTransport(clock, handler=service)
    tg = client(transport, clock)
    action = tg.request_action("deploy", feature="build", quantity=5, attributes={"ticket": "OPS-1"})
    first = transport.sent[0]
    assert first.body == {"action": "deploy", "feature": "build", "quantity": 5, "attributes": {"ticket": "OPS-1"}}
    assert first.headers["Idempotency-Key"]
    assert action.status == "pending"
    assert action.wait(timeout_s=600) == "approved"
    assert service.reads == 4
    assert clock.sleeps == sorted(clock.sleeps), "the waits between polls grow"
    spent = action.redeem(3)
    assert spent == sdk.Redemption(
        action_id=ACTION_ID, charged=15, entry_id="le_1", idempotency_key=transport.sent[-1].headers["Idempotency-Key"]
    )
    assert action.view.status == "redeemed" and action.view.rule_id == "prod"
    assert action.view.expires_at == datetime(2027, 1, 15, 8, 15, tzinfo=timezone.utc)
    with pytest.warns(DeprecationWarning, match="read the attribute"):
        assert spent["charged"] == 15  # 0.1's dict reading, for a while
    redeem = transport.sent[-1]
    assert redeem.body == {"feature": "build", "quantity": 3, "action_id": ACTION_ID}
    assert service.redeemed == {redeem.headers["Idempotency-Key"]: 1}


def test_a_lost_redemption_answer_is_sent_again_with_the_same_key() -> None:
    clock = FakeClock()
    service = ActionService(polls=0)
    lost = {"once": True}

    def handler(sent: Sent) -> HttpResponse | Exception:
        outcome = service(sent)
        if sent.url.endswith("/v1/consume") and lost.pop("once", False):
            return sdk.TransportError("the answer was lost")
        return outcome

    tg = client(FakeTransport(clock, handler=handler), clock)
    action = tg.request_action("deploy", feature="build", quantity=5)
    action.wait(timeout_s=60)
    action.redeem()
    ((_key, count),) = service.redeemed.items()
    assert count == 2, "sent twice, with one key: the service charges it once"


def test_wait_gives_up_at_its_deadline_and_says_so() -> None:
    clock = FakeClock()
    service = ActionService(polls=10_000)
    tg = client(FakeTransport(clock, handler=service), clock)
    action = tg.request_action("deploy", feature="build", quantity=5)
    start = clock.mono
    with pytest.raises(sdk.ApprovalTimeout):
        action.wait(timeout_s=120)
    assert clock.mono - start <= 120 + 1e-6, "never waits past the deadline"
    assert max(clock.sleeps) <= 15.0


def test_a_denied_action_raises_with_its_rule() -> None:
    clock = FakeClock()
    service = ActionService(polls=1, final="denied")
    tg = client(FakeTransport(clock, handler=service), clock)
    action = tg.request_action("deploy", feature="build", quantity=5)
    assert action.wait(timeout_s=60) == "denied"
    with pytest.raises(sdk.ActionDenied) as denied:
        action.redeem()
    assert denied.value.rule_id == "prod"


def test_a_policy_denial_at_once_is_typed_with_the_rule_id() -> None:
    clock = FakeClock()
    refusal = answer(403, {"error": {"code": "ACTION_DENIED", "message": "no", "request_id": "r", "rule_id": "nights"}})
    tg = client(FakeTransport(clock, [refusal]), clock)
    with pytest.raises(sdk.ActionDenied) as denied:
        tg.request_action("deploy")
    assert denied.value.rule_id == "nights" and denied.value.status == 403


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("GRANT_EXPIRED", sdk.GrantExpired),
        ("ACTION_NOT_APPROVED", sdk.ActionNotApproved),
        ("ACTION_RESOLVED", sdk.ActionResolved),
        ("BREAK_GLASS_NOT_ALLOWED", sdk.BreakGlassNotAllowed),
        ("INSUFFICIENT_TOKENS", sdk.InsufficientTokens),
    ],
)
def test_each_code_has_its_type(code: str, kind: type[sdk.APIError]) -> None:
    clock = FakeClock()
    status = {"GRANT_EXPIRED": 409, "ACTION_NOT_APPROVED": 409, "ACTION_RESOLVED": 409, "INSUFFICIENT_TOKENS": 402}
    tg = client(FakeTransport(clock, [error(status.get(code, 403), code)]), clock)
    with pytest.raises(kind):
        tg.request_action("deploy", feature="build", quantity=1)


def test_cancel_takes_the_answer() -> None:
    clock = FakeClock()
    tg = client(FakeTransport(clock, handler=ActionService()), clock)
    action = tg.request_action("deploy", feature="build", quantity=5)
    action.cancel()
    assert action.status == "cancelled"
