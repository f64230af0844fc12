"""The local webhook receiver (``/_local/webhooks``): records what it got, answers as told."""

from __future__ import annotations

import base64
import json

from infra.local.receiver import WebhookReceiver


def test_it_records_method_headers_and_raw_body_and_answers_as_told() -> None:
    receiver = WebhookReceiver(now=lambda: 1_800_000_000)
    status, _, _ = receiver.handle("POST", "/_local/webhooks/a", [("Webhook-Id", "msg_1")], b'{"x":1}')
    assert status == 204
    status, headers, _ = receiver.handle(
        "POST",
        "/_local/webhooks/a/behaviour",
        [],
        json.dumps({"status": 302, "location": "https://x.example/"}).encode(),
    )
    assert status == 200
    status, headers, _ = receiver.handle("POST", "/_local/webhooks/a", [], b"\xff")
    assert status == 302 and ("location", "https://x.example/") in headers
    receiver.handle("POST", "/_local/webhooks/a/behaviour", [], b'{"status": 500}')
    assert receiver.handle("POST", "/_local/webhooks/a", [], b"{}")[0] == 500
    status, _, body = receiver.handle("GET", "/_local/webhooks/a", [], b"")
    document = json.loads(body)
    assert status == 200 and document["behaviour"]["status"] == 500
    first, second, _ = document["received"]
    assert first["headers"] == {"webhook-id": "msg_1"} and first["body"] == '{"x":1}' and first["at"] == 1_800_000_000
    assert second["body"] is None and base64.b64decode(second["body_base64"]) == b"\xff"
    assert json.loads(receiver.handle("GET", "/_local/webhooks/b", [], b"")[2])["received"] == []


def test_bad_names_and_behaviours_are_refused() -> None:
    receiver = WebhookReceiver()
    assert receiver.handle("POST", "/_local/webhooks/a b", [], b"")[0] == 404
    assert receiver.handle("POST", "/_local/webhooks/a/other", [], b"")[0] == 404
    assert receiver.handle("PUT", "/_local/webhooks/a", [], b"")[0] == 405
    assert receiver.handle("POST", "/_local/webhooks/a/behaviour", [], b'{"status": 99}')[0] == 422
    assert receiver.handle("POST", "/_local/webhooks/a/behaviour", [], b"nope")[0] == 400
