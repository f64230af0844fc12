"""Validation receipts: a JWS (compact serialisation, ``alg`` EdDSA, Ed25519) over a short statement of a
validation's result, which the SDK checks offline against ``GET /v1/.well-known/jwks.json``.

Pure: the private key comes in as PEM text from whoever built the signer (``secret("RECEIPT_SIGNING_KEY")``
in production); nothing here reads the environment or the network. Receipts are signed with libsodium
(PyNaCl): a signature costs 55–65 % of ``cryptography``'s, whose OpenSSL path sets up a context per
call, and it is on every validation (docs/decisions.md, "Receipts are signed with libsodium"). Receipts are
checked, and unusual PEM keys read, with ``cryptography``. Both are imported on first use, not with this
module, which the validation function loads at cold start; with SnapStart, ``load_primitives`` runs before
the snapshot instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

RECEIPT_TTL_S = 300
ALGORITHM = "EdDSA"
# DER prefix of an unencrypted PKCS#8 Ed25519 private key; the 32 bytes after it are the key itself.
_PKCS8_ED25519 = bytes.fromhex("302e020100300506032b657004220420")


class InvalidReceipt(Exception):
    """A receipt that is malformed, signed by an unknown key, tampered with or out of date."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# One encoder for every receipt: ``json.dumps`` with options builds a new one per call (a hot path). Claims
# keep the order they were written in (a JWS needs no canonical order; sorting is a cost on every receipt).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _compact_json(value: Mapping[str, Any]) -> bytes:
    return _COMPACT_JSON.encode(value).encode()


def load_primitives() -> None:
    """Imports libsodium's bindings now rather than at the first signature (before a SnapStart snapshot)."""
    import nacl.bindings  # noqa: F401 - the import is the point


def private_seed_from_pem(pem: str) -> bytes:
    """The 32-byte Ed25519 private key (RFC 8032's seed) in PKCS#8 PEM. The common form is decoded by hand
    (it is 16 fixed bytes and the key); anything else goes through cryptography's full PEM loader."""
    body = "".join(line.strip() for line in pem.strip().splitlines() if not line.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    if len(der) == len(_PKCS8_ED25519) + 32 and der.startswith(_PKCS8_ED25519):
        return der[len(_PKCS8_ED25519) :]
    from cryptography.hazmat.primitives import serialization  # deferred: rare, and costs ~30 ms to import
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the receipt signing key must be an Ed25519 private key")
    return key.private_bytes_raw()


def public_jwk(public_key: bytes) -> dict[str, str]:
    """The JWK of an Ed25519 public key, given as its 32 raw bytes."""
    x = b64url(public_key)
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": thumbprint(x), "alg": ALGORITHM, "use": "sig"}


def thumbprint(x: str) -> str:
    """The RFC 7638 JWK thumbprint of an Ed25519 public key: a stable key id."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


class ReceiptSigner:
    """Signs receipts with one private key, loaded on first use (not at import: in AWS it is a call to SSM)."""

    def __init__(self, private_key_pem: Callable[[], str]) -> None:
        self._pem = private_key_pem

    @cached_property
    def _keypair(self) -> tuple[bytes, bytes]:
        """(public key, libsodium's 64-byte secret key: the seed and the public key)."""
        from nacl.bindings import crypto_sign_seed_keypair

        return crypto_sign_seed_keypair(private_seed_from_pem(self._pem()))

    @cached_property
    def _jwk(self) -> dict[str, str]:
        return public_jwk(self._keypair[0])

    @property
    def kid(self) -> str:
        return self._jwk["kid"]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [dict(self._jwk)]}

    @cached_property
    def _header(self) -> str:
        """The JWS header, encoded: the same for every receipt this signer makes."""
        return b64url(_compact_json({"alg": ALGORITHM, "kid": self.kid, "typ": "JWT"}))

    @cached_property
    def _crypto_sign(self) -> Callable[[bytes, bytes], bytes]:
        from nacl.bindings import crypto_sign

        return crypto_sign

    def sign(self, claims: Mapping[str, Any]) -> str:
        signing_input = f"{self._header}.{b64url(_compact_json(claims))}"
        signed = self._crypto_sign(signing_input.encode(), self._keypair[1])  # the signature, then the message
        return f"{signing_input}.{b64url(signed[:64])}"


def verify_receipt(receipt: str, jwks: Mapping[str, Any], now: int | None = None, leeway_s: int = 30) -> dict[str, Any]:
    """What the SDK does offline: check the signature against the published keys (and, given ``now``,
    that the receipt is within its validity, give or take ``leeway_s`` of clock skew). Returns the
    claims; raises ``InvalidReceipt``."""
    try:
        header_b64, claims_b64, signature_b64 = receipt.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidReceipt("not a compact JWS") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != ALGORITHM:
        raise InvalidReceipt("not an EdDSA receipt")
    matching = [key for key in jwks.get("keys", []) if key.get("kid") == header.get("kid")]
    if not matching or matching[0].get("kty") != "OKP" or matching[0].get("crv") != "Ed25519":
        raise InvalidReceipt("signed by a key that is not published")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(matching[0]["x"]))
        public_key.verify(signature, f"{header_b64}.{claims_b64}".encode())
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise InvalidReceipt("the signature does not match") from exc
    if now is not None and not int(claims.get("iat", 0)) - leeway_s <= now < int(claims.get("exp", 0)) + leeway_s:
        raise InvalidReceipt("the receipt is outside its validity")
    return claims
