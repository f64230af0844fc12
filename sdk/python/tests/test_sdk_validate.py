"""validate: receipts verified against the JWKS (cached, refreshed on an unknown kid), the answer taken from
the signed claims, offline fallback while the last receipt lasts, clock tampering refused, the file cache."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sdk_fakes import LICENSE_KEY, FakeClock, FakeTransport, Sent, Signer, answer, client, refused

import tollgate_sdk as sdk
from tollgate_sdk.transport import HttpResponse


class Service:
    """A fake service: signs a receipt for each validation with its current signer."""

    def __init__(self, clock: FakeClock, signer: Signer) -> None:
        self.clock = clock
        self.signer = signer
        self.down = False
        self.server_skew = 0.0  # the service's clock minus the client's
        self.code = "VALID"

    def __call__(self, sent: Sent) -> HttpResponse | Exception:
        if self.down:
            return refused()
        if sent.url.endswith("/v1/.well-known/jwks.json"):
            return answer(200, self.signer.jwks())
        receipt = self.signer.receipt(self.clock.now() + self.server_skew, self.code, **(sent.body or {}))
        return answer(200, {"valid": self.code == "VALID", "code": self.code, "receipt": receipt})


def setup(**options: Any) -> tuple[FakeClock, Service, FakeTransport, sdk.Tollgate]:
    clock = FakeClock()
    service = Service(clock, Signer())
    transport = FakeTransport(clock, handler=service)
    return clock, service, transport, client(transport, clock, max_retries=1, **options)


def jwks_fetches(transport: FakeTransport) -> int:
    return sum(1 for sent in transport.sent if sent.url.endswith("jwks.json"))


def test_online_validation_is_verified_and_the_jwks_is_fetched_once() -> None:
    _, _, transport, tg = setup()
    first = tg.validate(feature="build", region="eu-west-1")
    second = tg.validate(feature="build", region="eu-west-1")
    assert (first.valid, first.code, first.offline) == (True, "VALID", False)
    assert second.valid
    assert jwks_fetches(transport) == 1
    assert transport.sent[0].body == {"feature": "build", "region": "eu-west-1"}


def test_an_unknown_kid_refreshes_the_jwks() -> None:
    _, service, transport, tg = setup()
    tg.validate(feature="build")
    service.signer = Signer()  # the service rotated its signing key
    assert tg.validate(feature="build").valid
    assert jwks_fetches(transport) == 2


def test_a_receipt_from_a_key_that_is_not_published_is_refused() -> None:
    clock = FakeClock()
    published, forger = Signer(), Signer()

    def handler(sent: Sent) -> HttpResponse:
        if sent.url.endswith("jwks.json"):
            return answer(200, published.jwks())
        return answer(200, {"valid": True, "code": "VALID", "receipt": forger.receipt(clock.now(), feature="build")})

    tg = client(FakeTransport(clock, handler=handler), clock)
    with pytest.raises(sdk.InvalidReceipt, match="not published"):
        tg.validate(feature="build")


def test_tampered_claims_are_refused_and_the_unsigned_body_is_not_believed() -> None:
    clock = FakeClock()
    signer = Signer()
    revoked = signer.receipt(clock.now(), "REVOKED", feature="build")
    header, claims, signature = revoked.split(".")
    forged_claims = json.loads(sdk_b64decode(claims)) | {"valid": True, "code": "VALID"}
    forged = ".".join([header, sdk_b64encode(json.dumps(forged_claims).encode()), signature])
    answers = iter([forged, revoked])

    def handler(sent: Sent) -> HttpResponse:
        if sent.url.endswith("jwks.json"):
            return answer(200, signer.jwks())
        return answer(200, {"valid": True, "code": "VALID", "receipt": next(answers)})

    tg = client(FakeTransport(clock, handler=handler), clock)
    with pytest.raises(sdk.InvalidReceipt, match="signature"):
        tg.validate(feature="build")
    result = tg.validate(feature="build")  # the body says VALID; the signed receipt says REVOKED
    assert (result.valid, result.code) == (False, "REVOKED")
    with pytest.raises(sdk.KeyRevoked):
        result.raise_if_invalid()


def test_a_receipt_for_another_request_is_refused() -> None:
    clock = FakeClock()
    signer = Signer()

    def handler(sent: Sent) -> HttpResponse:
        if sent.url.endswith("jwks.json"):
            return answer(200, signer.jwks())
        return answer(200, {"receipt": signer.receipt(clock.now(), feature="cheap-feature")})

    with pytest.raises(sdk.InvalidReceipt, match="feature"):
        client(FakeTransport(clock, handler=handler), clock).validate(feature="build")


def test_a_receipt_issued_later_than_the_local_clock_allows_is_a_tampered_clock() -> None:
    _, service, _, tg = setup(max_clock_drift_s=120)
    service.server_skew = 100  # within the drift bound
    assert tg.validate(feature="build").valid
    service.server_skew = 3600  # the local clock is an hour behind the service: set back
    with pytest.raises(sdk.ClockTampered):
        tg.validate(feature="build")


def test_offline_the_last_receipt_for_the_same_request_is_used_until_it_expires() -> None:
    clock, service, _, tg = setup()
    tg.validate(feature="build", region="eu-west-1")
    service.down = True
    clock.advance(200)
    offline = tg.validate(feature="build", region="eu-west-1")
    assert (offline.valid, offline.offline) == (True, True)
    with pytest.raises(sdk.Unavailable):
        tg.validate(feature="deploy", region="eu-west-1")  # never validated online: no receipt
    clock.advance(200)  # past the receipt's 300 s
    with pytest.raises(sdk.ConnectionFailed):
        tg.validate(feature="build", region="eu-west-1")


def test_offline_a_clock_set_back_below_a_signed_time_is_refused() -> None:
    clock, service, _, tg = setup(max_clock_drift_s=60)
    tg.validate(feature="build")
    clock.advance(250)
    tg.validate(feature="build")  # a fresher receipt, issued at +250
    service.down = True
    clock.wall -= 400  # set back: the first receipt would look fresh again
    with pytest.raises(sdk.ClockTampered):
        tg.validate(feature="build")


def test_the_file_cache_serves_a_restarted_process_offline_and_holds_no_license_key(tmp_path: Path) -> None:
    path = str(tmp_path / "receipts.json")
    clock, _, _, tg = setup(receipt_cache_path=path)
    tg.validate(feature="build")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert LICENSE_KEY not in Path(path).read_text() and "secret" not in Path(path).read_text()
    # a new process, offline from the start
    down = FakeTransport(clock, [refused()] * 10)
    restarted = client(down, clock, max_retries=1, receipt_cache_path=path)
    clock.advance(60)
    result = restarted.validate(feature="build")
    assert (result.valid, result.offline) == (True, True)
    assert all(not sent.url.endswith("jwks.json") for sent in down.sent)


def test_a_file_cache_edited_to_set_the_clock_back_is_still_caught(tmp_path: Path) -> None:
    path = tmp_path / "receipts.json"
    clock, _, _, tg = setup(receipt_cache_path=str(path), max_clock_drift_s=60)
    tg.validate(feature="build")
    restarted = client(FakeTransport(clock, [refused()] * 10), clock, max_retries=1, receipt_cache_path=str(path))
    clock.wall -= 3600
    with pytest.raises(sdk.ClockTampered):
        restarted.validate(feature="build")


def test_pinned_keys_are_the_only_keys_trusted() -> None:
    clock, service, _, _ = setup()
    transport = FakeTransport(clock, handler=service)
    pinned = client(transport, clock, jwks=Signer().jwks())  # not the service's key
    with pytest.raises(sdk.InvalidReceipt):
        pinned.validate(feature="build")
    assert jwks_fetches(transport) == 0
    trusting = client(FakeTransport(clock, handler=service), clock, jwks=service.signer.jwks())
    assert trusting.validate(feature="build").valid


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("NOT_FOUND", sdk.KeyNotFound),
        ("REVOKED", sdk.KeyRevoked),
        ("EXPIRED", sdk.KeyExpired),
        ("SUSPENDED", sdk.TenantSuspended),
        ("REGION_NOT_ALLOWED", sdk.RegionNotAllowed),
        ("FEATURE_NOT_ENTITLED", sdk.NotEntitled),
        ("PROJECT_NOT_ALLOWED", sdk.ProjectNotAllowed),
    ],
)
def test_an_invalid_result_raises_its_typed_error_on_request(code: str, kind: type) -> None:
    _, service, _, tg = setup()
    service.code = code
    result = tg.validate(feature="build")
    assert (result.valid, result.code) == (False, code)
    with pytest.raises(kind):
        result.raise_if_invalid()


def sdk_b64decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sdk_b64encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_when_the_new_key_cannot_be_fetched_the_last_receipt_answers_offline() -> None:
    clock, service, transport, tg = setup()
    tg.validate(feature="build")
    old_handler = transport.handler
    service.signer = Signer()  # rotated; the JWKS route is down

    def jwks_down(sent: Sent) -> HttpResponse | Exception:
        assert old_handler is not None
        return refused() if sent.url.endswith("jwks.json") else old_handler(sent)

    transport.handler = jwks_down
    clock.advance(10)
    result = tg.validate(feature="build")
    assert (result.valid, result.offline) == (True, True)
