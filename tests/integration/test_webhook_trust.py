"""Webhooks as an attacker and a returning tenant meet them, over real HTTP against the local stack (issue 20):
a receiver that drips its answer is cut off at the per-attempt bound and the attempt is failed (defect 2);
an endpoint disabled after 5 days of failure is enabled again with its history (defect 12)."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest

from tests.integration.conftest import Stack, http
from tests.integration.test_webhooks import NOTIFIER, behave, create_endpoint, deliveries, inbox, stream_batch
from tests.unit.test_webhook_slow_receivers import Dripper

pytestmark = pytest.mark.integration


def test_a_receiver_that_drips_its_answer_gets_a_failed_attempt_and_is_cut_off(stack: Stack) -> None:
    """The receiver reads the whole request, sends its status and headers at once, then the body a byte every
    0.2 s (30 s in all): the notifier cuts it off at the 5 s bound and records a failed attempt, instead of
    waiting 30 s and calling it delivered."""
    answer_bytes = b"x" * 150
    dripper = Dripper(
        head=b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(answer_bytes), answer=answer_bytes, every_s=0.2
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    thread = threading.Thread(target=dripper.serve, args=(listener,), daemon=True)
    thread.start()
    try:
        tenant_id, owner = stack.signup("Dripped")
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        made = stack.call("POST", "/v1/webhook-endpoints", {"url": url, "events": ["purchase.paid"]}, key=owner)
        assert made.status == 201, made.body
        now = http("GET", stack.api + "/_local/clock").body["now"]
        answer = stack.invoke(NOTIFIER, stream_batch(tenant_id, "ev_" + uuid.uuid4().hex[:16], now))
        assert answer.status == 200 and answer.body == {"batchItemFailures": []}, answer.body
        assert dripper.finished.wait(20), "the receiver is still dripping: the attempt was not cut off"
        assert dripper.cut_off and dripper.sent < len(answer_bytes), (dripper.cut_off, dripper.sent)
        [attempt] = deliveries(stack, owner, made.body["endpoint"]["id"])
        assert attempt["outcome"] == "failed" and attempt["next_attempt_at"], attempt
        assert attempt["error"].startswith("timeout"), attempt
    finally:
        dripper.stop.set()
        listener.close()
        thread.join(10)


def test_a_disabled_endpoint_is_enabled_again_with_its_history(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Returning")
    name = f"enable-{uuid.uuid4().hex[:8]}"
    endpoint = create_endpoint(stack, owner, name, ["purchase.paid"])
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    behave(stack, name, status=500)
    now = http("GET", stack.api + "/_local/clock").body["now"]
    assert stack.invoke(NOTIFIER, stream_batch(tenant_id, "ev_" + uuid.uuid4().hex[:16], now)).status == 200
    [failed] = deliveries(stack, owner, endpoint["id"])
    assert failed["outcome"] == "failed"
    # five days of failure disable it (the notifier's own write; the schedule is tested in test_notifier.py)
    stack.client().update_item(
        TableName=stack.table_name,
        Key={"pk": {"S": f"T#{tenant_id}"}, "sk": {"S": f"WHEP#{endpoint['id']}"}},
        UpdateExpression="SET #s = :d, disabled_at = :t, failing_since = :f ADD version :one",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":d": {"S": "disabled"},
            ":t": {"N": str(now)},
            ":f": {"N": str(now - 5 * 86_400)},
            ":one": {"N": "1"},
        },
    )
    assert stack.call("GET", path, key=owner).body["endpoint"]["status"] == "disabled"
    behave(stack, name, status=204)
    assert stack.invoke(NOTIFIER, stream_batch(tenant_id, "ev_" + uuid.uuid4().hex[:16], now)).status == 200
    assert (
        len(inbox(stack, name, typed=False)) == 1
    )  # synthetic records (not payloads the code built); the failed attempt only: nothing goes to a disabled endpoint

    _, stranger = stack.signup("Stranger")
    billing = stack.api_key(owner, "billing")
    assert stack.call("POST", path + "/enable", key=stranger).status == 404
    assert stack.call("POST", "/v1/webhook-endpoints/we_0000000000000000/enable", key=owner).status == 404
    assert stack.call("POST", "/v1/webhook-endpoints/not-an-id/enable", key=owner).status == 404
    assert stack.call("POST", path + "/enable", key=billing).status == 403
    assert stack.call("GET", path, key=owner).body["endpoint"]["status"] == "disabled"

    admin = stack.api_key(owner, "admin")
    enabled = stack.call("POST", path + "/enable", key=admin)
    assert enabled.status == 200, enabled.body
    view = enabled.body["endpoint"]
    assert view["status"] == "enabled" and view["disabled_at"] is None and view["failing_since"] is None
    assert "secret" not in view
    again = stack.call("POST", path + "/enable", key=owner)
    assert again.status == 200 and again.body["endpoint"] == view  # idempotent
    assert [a["outcome"] for a in deliveries(stack, owner, endpoint["id"])] == ["failed"]  # history kept

    event_id = "ev_" + uuid.uuid4().hex[:16]
    assert stack.invoke(NOTIFIER, stream_batch(tenant_id, event_id, now)).status == 200
    assert len(inbox(stack, name, typed=False)) == 2
    outcomes = {attempt["event_id"]: attempt["outcome"] for attempt in deliveries(stack, owner, endpoint["id"])}
    assert len(outcomes) == 2 and outcomes[event_id] == "delivered"  # one clock instant: found by id, not order
