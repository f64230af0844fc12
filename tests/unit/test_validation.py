"""The validation decision as a pure function, region groups, receipts (offline verification and
tampering), and the validation function's handler called in-process with payload-2.0 events."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.unit.conftest import _SESSION
from tests.unit.licensing import NOW, Licensing, signing_key_pem
from tollgate.core.errors import InvalidField
from tollgate.core.models import LicenseKey, LicenseKeySnapshot, Tenant, TenantStatus
from tollgate.keys import rules as regions
from tollgate.keys.rules_receipts import InvalidReceipt, ReceiptSigner, b64url, b64url_decode, verify_receipt
from tollgate.keys.service_validation import Code, ValidationRequest, decide
from tollgate.tenancy.rules import format_license_key, hash_secret, parse_license_key

PLAIN = format_license_key("eu-west-1", "tn_aaaaaaaaaaaaaaaa", "lk_bbbbbbbbbbbbbbbb", "c" * 32)
PRESENTED = parse_license_key(PLAIN)
TENANT = Tenant("tn_aaaaaaaaaaaaaaaa", "Acme", "a@acme.example", "eu-west-1", TenantStatus.ACTIVE, NOW - 100)
KEY = LicenseKey(
    id="lk_bbbbbbbbbbbbbbbb",
    tenant_id=TENANT.id,
    name="ci",
    display="tgk_…",
    secret_hash=hash_secret(PLAIN),
    regions=("eu", "us-east-1"),
    created_at=NOW - 50,
    features=("build",),
    project_id="pj_pppppppppppppppp",
)


def code(
    key: LicenseKey | None = KEY,
    tenant: Tenant | None = TENANT,
    project_exists: bool | None = None,
    served_from: str = "eu-west-1",
    now: int = NOW,
    **request: Any,
) -> Code:
    assert PRESENTED is not None
    snapshot = LicenseKeySnapshot(tenant=tenant, key=key, project_exists=project_exists)
    return decide(PRESENTED, snapshot, ValidationRequest(**request), served_from, now)


def test_decide_every_code() -> None:
    assert code() is Code.VALID
    assert code(key=None) is Code.NOT_FOUND
    assert code(tenant=None) is Code.NOT_FOUND
    assert code(key=KEY._replace(secret_hash=hash_secret("other"))) is Code.NOT_FOUND
    assert code(key=KEY._replace(revoked_at=NOW - 1)) is Code.REVOKED
    assert code(key=KEY._replace(expires_at=NOW)) is Code.EXPIRED
    assert code(key=KEY._replace(expires_at=NOW + 1)) is Code.VALID
    assert code(tenant=TENANT._replace(status=TenantStatus.SUSPENDED)) is Code.SUSPENDED
    assert code(served_from="ap-south-1") is Code.REGION_NOT_ALLOWED
    assert code(region="eu-west-2") is Code.REGION_NOT_ALLOWED
    assert code(project="pj_qqqqqqqqqqqqqqqq", project_exists=True) is Code.PROJECT_NOT_ALLOWED
    assert code(project="pj_pppppppppppppppp", project_exists=False) is Code.PROJECT_NOT_ALLOWED
    assert code(project="pj_pppppppppppppppp", project_exists=True) is Code.VALID
    assert code(feature="deploy") is Code.FEATURE_NOT_ENTITLED
    assert code(feature="build", region="us-east-1", served_from="eu-north-1") is Code.VALID


def test_decide_reports_the_first_failure_in_the_documented_order() -> None:
    everything_wrong = KEY._replace(revoked_at=NOW - 1, expires_at=NOW - 1, regions=("ap",))
    suspended = TENANT._replace(status=TenantStatus.SUSPENDED)
    assert code(key=everything_wrong, tenant=suspended, feature="deploy") is Code.REVOKED
    assert code(key=everything_wrong._replace(revoked_at=None), tenant=suspended) is Code.EXPIRED
    assert code(key=KEY._replace(regions=("ap",)), tenant=suspended) is Code.SUSPENDED
    assert code(key=KEY._replace(regions=("ap",)), feature="deploy") is Code.REGION_NOT_ALLOWED
    assert code(feature="deploy", project="pj_qqqqqqqqqqqqqqqq", project_exists=True) is Code.PROJECT_NOT_ALLOWED


@pytest.mark.parametrize(
    ("scope", "region", "allowed"),
    [
        (("eu",), "eu-west-1", True),
        (("eu",), "eu-west-2", False),  # London: Europe, not the EU
        (("eu",), "eu-central-2", False),  # Zurich
        (("europe",), "eu-west-2", True),
        (("us",), "us-west-2", True),
        (("us",), "us-gov-west-1", False),
        (("us-gov",), "us-gov-west-1", True),
        (("ap",), "ap-southeast-7", True),
        (("americas",), "sa-east-1", True),
        (("*",), "me-central-1", True),
        (("us-east-1",), "us-east-2", False),
        (("eu-west-1", "us-east-1"), "us-east-1", True),
        (("europe",), "eu-west-9", True),  # a region AWS launches later is in its group at once
    ],
)
def test_region_groups(scope: tuple[str, ...], region: str, allowed: bool) -> None:
    assert regions.allows(scope, region) is allowed


def test_every_group_covers_some_known_region_and_scopes_are_checked() -> None:
    for group in regions.GROUPS:
        assert regions.expand([group]), group
    assert regions.validate_scope("regions", ["eu", "eu", "us-east-1"]) == ("eu", "us-east-1")
    for bad in ([], "eu", ["eu-wset-1"], [3], ["EU"]):
        with pytest.raises(InvalidField):
            regions.validate_scope("regions", bad)


def test_receipt_verifies_and_tampering_is_detected() -> None:
    signer = ReceiptSigner(signing_key_pem)
    receipt = signer.sign({"code": "VALID", "valid": True, "iat": NOW, "exp": NOW + 300})
    jwks = signer.jwks()
    assert verify_receipt(receipt, jwks, now=NOW + 10)["valid"] is True
    header, claims, signature = receipt.split(".")
    forged = b64url(json.dumps({"code": "VALID", "valid": True, "iat": NOW, "exp": NOW + 99999}).encode())
    for tampered in (
        f"{header}.{forged}.{signature}",
        f"{header}.{claims}.{b64url(bytes(64))}",
        f"{header}.{claims}.{signature[:10]}{'B' if signature[10] == 'A' else 'A'}{signature[11:]}",
        f"{header}.{claims}",
        "not a receipt",
    ):
        with pytest.raises(InvalidReceipt):
            verify_receipt(tampered, jwks)
    with pytest.raises(InvalidReceipt):  # signed by a key that is not the published one
        verify_receipt(receipt, ReceiptSigner(signing_key_pem).jwks())
    with pytest.raises(InvalidReceipt):  # after its validity
        verify_receipt(receipt, jwks, now=NOW + 400)


def test_libsodium_signs_what_openssl_would_sign_for_the_same_key() -> None:
    """Ed25519 signatures are deterministic (RFC 8032): the signer's libsodium signature is byte for byte the
    one cryptography (OpenSSL) makes with the key in the PEM, and base64url has no padding."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = signing_key_pem()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    for claims in ({"x": 1}, {"code": "VALID", "feature": "é", "iat": NOW}, {}):
        header, body, signature = ReceiptSigner(lambda: pem).sign(claims).split(".")
        assert "=" not in header + body + signature
        assert b64url_decode(signature) == key.sign(f"{header}.{body}".encode())
        assert json.loads(b64url_decode(body)) == claims


def test_a_pem_the_hand_decoder_does_not_take_goes_through_cryptography_to_the_same_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tollgate.keys import rules_receipts as receipts

    pem = signing_key_pem()
    by_hand = receipts.private_seed_from_pem(pem)
    monkeypatch.setattr(receipts, "_PKCS8_ED25519", bytes(16))  # no PEM matches: the full loader reads it
    assert receipts.private_seed_from_pem(pem) == by_hand and len(by_hand) == 32
    signer = ReceiptSigner(lambda: pem)
    assert verify_receipt(signer.sign({"x": 1}), signer.jwks())["x"] == 1


def test_jwks_publishes_the_ed25519_public_key_only() -> None:
    signer = ReceiptSigner(signing_key_pem)
    (key,) = signer.jwks()["keys"]
    assert {k: key[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
    }
    assert len(b64url_decode(key["x"])) == 32
    assert key["kid"] == signer.kid
    assert "d" not in key
    header = json.loads(b64url_decode(signer.sign({"a": 1}).split(".")[0]))
    assert header == {"alg": "EdDSA", "kid": signer.kid, "typ": "JWT"}


# ------------------------------------------------------------------------------------------- handler


os.environ.setdefault("RECEIPT_SIGNING_KEY", signing_key_pem())


def _load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_app", ROOT / "functions" / "validate" / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler(table: str) -> Iterator[ModuleType]:
    module = _load_handler()
    yield module
    sys.modules.pop("validate_app", None)


def event(method: str, path: str, body: Any = None, token: str | None = None, raw: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": headers,
        "requestContext": {"requestId": "req-1", "http": {"method": method, "path": path}},
        "body": raw if raw is not None else (None if body is None else json.dumps(body)),
        "isBase64Encoded": False,
    }


def call(module: ModuleType, *args: Any, **kwargs: Any) -> tuple[int, Any]:
    answer = module.handler(event(*args, **kwargs), None)
    return answer["statusCode"], json.loads(answer["body"])


def test_handler_answers_every_parseable_key_with_200_and_a_receipt(handler: ModuleType) -> None:
    world = Licensing(_SESSION.client("dynamodb", region_name=os.environ["AWS_REGION"]))
    world.region = os.environ["AWS_REGION"]
    owner = world.owner()
    issued = world.issue(owner, regions=("us", "eu"), features=("build",))
    status, body = call(handler, "POST", "/v1/validate", {"feature": "build", "region": "eu-west-1"}, issued.secret)
    assert status == 200
    assert (body["valid"], body["code"], body["key"]["id"]) == (True, "VALID", issued.key.id)
    status, jwks = call(handler, "GET", "/v1/.well-known/jwks.json")
    assert status == 200
    claims = verify_receipt(body["receipt"], jwks)
    assert (claims["code"], claims["key_id"]) == ("VALID", issued.key.id)

    status, body = call(handler, "POST", "/v1/validate", {"feature": "deploy"}, issued.secret)
    assert (status, body["valid"], body["code"]) == (200, False, "FEATURE_NOT_ENTITLED")
    status, body = call(handler, "POST", "/v1/validate", None, PLAIN)
    assert (status, body["code"], body["key"]) == (200, "NOT_FOUND", None)
    assert verify_receipt(body["receipt"], jwks)["code"] == "NOT_FOUND"


@pytest.mark.parametrize("token", [None, "tg_not_a_license_key", "tgk_garbage", "Basic abc"])
def test_handler_without_a_parseable_key_is_401_with_the_error_body(handler: ModuleType, token: str | None) -> None:
    status, body = call(handler, "POST", "/v1/validate", {}, token)
    assert status == 401
    assert body["error"]["code"] == "UNAUTHENTICATED"
    assert body["error"]["request_id"] == "req-1"


@pytest.mark.parametrize(
    ("body", "raw", "status", "field"),
    [
        (None, "{not json", 400, None),
        (None, "[1, 2]", 400, None),
        ({"region": "Mars"}, None, 422, "region"),
        ({"feature": 7}, None, 422, "feature"),
        ({"colour": "red"}, None, 422, "colour"),
    ],
)
def test_handler_rejects_bad_bodies_clearly(
    handler: ModuleType, body: Any, raw: str | None, status: int, field: str | None
) -> None:
    got, answer = call(handler, "POST", "/v1/validate", body, PLAIN, raw=raw)
    assert got == status
    assert answer["error"]["code"] in {"MALFORMED_REQUEST", "INVALID_FIELD"}
    assert answer["error"].get("field") == field


def test_handler_unknown_route_is_404_and_another_method_405(handler: ModuleType) -> None:
    status, body = call(handler, "GET", "/v1/validates")
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
    answer = handler.handler(event("GET", "/v1/validate"), None)
    assert (answer["statusCode"], answer["headers"]["Allow"]) == (405, "POST")
    assert json.loads(answer["body"])["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_handler_logs_no_secret(handler: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    call(handler, "POST", "/v1/validate", {"fingerprint": PLAIN}, PLAIN)
    call(handler, "POST", "/v1/validate", {"colour": PLAIN}, PLAIN)
    out = capsys.readouterr().out
    assert '"validated"' in out
    assert PLAIN not in out
    assert "c" * 32 not in out


def test_handler_imports_no_heavy_library() -> None:
    code = (
        "import sys; sys.path[:0] = ['functions/validate', 'shared']; import app; "
        "heavy = ('pynamodb', 'stripe', 'pydantic', 'aws_lambda_powertools', 'boto3', 'nacl', 'cryptography'); "
        "heavy = [m for m in heavy if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    env = dict(os.environ, TOLLGATE_DDB_ENDPOINT="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_signing_key_pem_is_read_by_hand_and_other_keys_are_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = signing_key_pem()
    assert len(base64.b64decode("".join(pem.strip().splitlines()[1:-1]))) == 48  # the PKCS#8 form decoded by hand
    signer = ReceiptSigner(lambda: pem)
    assert verify_receipt(signer.sign({"x": 1}), signer.jwks())["x"] == 1
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(ValueError, match="Ed25519"):
        ReceiptSigner(lambda: ec_pem).sign({"x": 1})
