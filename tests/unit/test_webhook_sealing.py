"""Rotating the sealing key of webhook secrets loses nothing (issue 20, defect 11): sealed values name their
key id, the ring keeps old keys for opening, a delivery after a rotation still verifies with the endpoint's
original secret, values sealed before key ids (``v1``, under the credential pepper) still open, and a
process whose cached ring predates a rotation reads the ring again when it meets a newer key id."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.unit.test_webhook_store import caller
from tollgate.core.clock import FixedClock
from tollgate.core.ids import RANDOM_IDS
from tollgate.events.rules import Event
from tollgate.events.sealing import SealingKeysError, SecretBox, parse_keys
from tollgate.events.service_webhooks import WebhookEndpointService
from tollgate.events.signing import new_secret

T0 = 1_800_000_000
OLD = "k1=the-first-sealing-key-0123456789abcdef"
NEW = "k2=the-second-sealing-key-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[tuple[list[tuple[dict[str, str], bytes]], str]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield got, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def endpoints(box: SecretBox, clock: FixedClock) -> WebhookEndpointService:
    from tollgate.events.store_webhooks import DynamoWebhookEndpoints

    return WebhookEndpointService(
        DynamoWebhookEndpoints(), box, clock, RANDOM_IDS, new_secret=new_secret, allow_loopback_http=lambda: True
    )


def test_after_a_rotation_of_the_sealing_key_deliveries_still_verify_with_the_original_secret(
    table: str, receiver: tuple[list[tuple[dict[str, str], bytes]], str]
) -> None:
    from tollgate.events.sender import WebhookSender
    from tollgate.events.service_notifier import NotifierService
    from tollgate.events.signing import signed_headers
    from tollgate.events.store_deliveries import DynamoDeliveryStore

    got, url = receiver
    clock = FixedClock(T0)
    before = SecretBox(lambda: OLD)
    issued = endpoints(before, clock).create(caller(), url, ["purchase.paid"], None)
    assert issued.endpoint.secret_sealed.startswith("v2.k1.")

    rotated = SecretBox(lambda: f"{NEW},{OLD}")  # the new key first, the old one kept for reading
    later = endpoints(rotated, clock).create(caller(), url, ["purchase.paid"], None)
    assert later.endpoint.secret_sealed.startswith("v2.k2.")
    notifier = NotifierService(
        DynamoDeliveryStore(), WebhookSender(allow_loopback=True), signed_headers, rotated, clock, lambda: 0.0
    )
    event = Event("ev_rotated", caller().tenant_id, "purchase.paid", T0, {"purchase_id": "pu_1"})
    report = notifier.deliver_events([("1", event)])
    assert report.delivered == 2 and report.failed == 0, report
    by_id = {headers["webhook-id"]: (headers, body) for headers, body in got}
    for made in (issued, later):
        headers, body = by_id[f"msg_ev_rotated_{made.endpoint.id}"]
        headers = {**headers, "webhook-timestamp": str(T0)}
        payload = Webhook(made.secret).sign(headers["webhook-id"], _at(T0), body.decode())
        assert payload == headers["webhook-signature"]  # signed with the endpoint's original secret


def _at(stamp: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, tz=UTC)


def test_dropping_a_key_still_in_use_fails_naming_the_key() -> None:
    sealed = SecretBox(lambda: OLD).seal("whsec_x", "tn_a", "we_1")
    with pytest.raises(ValueError, match="k1"):
        SecretBox(lambda: NEW, fresh_keys=lambda: NEW).open(sealed, "tn_a", "we_1")


def test_a_process_whose_ring_predates_the_rotation_reads_it_again_for_a_newer_key_id() -> None:
    sealed = SecretBox(lambda: f"{NEW},{OLD}").seal("whsec_y", "tn_a", "we_1")
    reads: list[str] = []

    def fresh() -> str:
        reads.append("fresh")
        return f"{NEW},{OLD}"

    stale = SecretBox(lambda: OLD, fresh_keys=fresh)
    assert stale.open(sealed, "tn_a", "we_1") == "whsec_y"
    assert stale.open(sealed, "tn_a", "we_1") == "whsec_y"
    assert reads == ["fresh"]  # once, then the ring it read is kept


def test_values_sealed_before_key_ids_open_with_the_credential_pepper() -> None:
    """The sealed form deployed before key ids: ``v1.`` + base64url(nonce + AES-GCM), the key HKDF-SHA256 of
    the credential pepper with the label below, the tenant and endpoint ids as associated data."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tollgate webhook endpoint secret v1").derive(
        b"the-old-pepper"
    )
    nonce = os.urandom(12)
    legacy = "v1." + base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, b"whsec_old", b"tn_a|we_1")).decode()
    box = SecretBox(lambda: f"{NEW},{OLD}", pepper=lambda: "the-old-pepper")
    assert box.open(legacy, "tn_a", "we_1") == "whsec_old"
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag: bound to its endpoint)
        box.open(legacy, "tn_a", "we_2")


def test_a_sealed_value_cannot_be_moved_to_another_key_id_or_endpoint() -> None:
    box = SecretBox(lambda: f"{NEW},{OLD}")
    sealed = box.seal("whsec_z", "tn_a", "we_1")
    moved = sealed.replace("v2.k2.", "v2.k1.")
    for value, endpoint in ((moved, "we_1"), (sealed, "we_2")):
        with pytest.raises(Exception):  # noqa: B017
            box.open(value, "tn_a", endpoint)


@pytest.mark.parametrize(
    "text",
    ["", "k1", "k1=short", "bad id=" + "x" * 40, f"{OLD},{OLD}", "=" + "x" * 40, "k" * 17 + "=" + "x" * 40],
)
def test_a_malformed_key_ring_is_refused(text: str) -> None:
    with pytest.raises(SealingKeysError):
        parse_keys(text)
