"""Validation receipts: compact JWS (``alg`` EdDSA, Ed25519) checked against the service's published keys.

A receipt is trusted only if its signature verifies with a key from the JWKS. Then its times are checked
against the local clock: issued later than ``now + max_clock_drift_s`` means the local clock was set back
(``ClockTampered``); past ``exp`` (give or take the drift) means ``ReceiptExpired``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tollgate_sdk.errors import ClockTampered, InvalidReceipt, ReceiptExpired

ALGORITHM = "EdDSA"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Receipt:
    """A verified receipt: the signed statement of one validation's result."""

    token: str
    claims: Mapping[str, Any]

    @property
    def valid(self) -> bool:
        return self.claims.get("valid") is True

    @property
    def code(self) -> str:
        return str(self.claims.get("code", ""))

    @property
    def iat(self) -> int:
        """When it was issued, in epoch seconds (the signed claim)."""
        return int(self.claims["iat"])

    @property
    def exp(self) -> int:
        """When it expires, in epoch seconds (the signed claim)."""
        return int(self.claims["exp"])

    @property
    def issued_at(self) -> datetime:
        """When it was issued (aware, UTC)."""
        return datetime.fromtimestamp(self.iat, tz=timezone.utc)

    @property
    def expires_at(self) -> datetime:
        """When it expires (aware, UTC)."""
        return datetime.fromtimestamp(self.exp, tz=timezone.utc)


@dataclass(frozen=True)
class _Parsed:
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


def _parse(token: str) -> _Parsed:
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url_decode(header_b64))
        claims = json.loads(_b64url_decode(claims_b64))
        signature = _b64url_decode(signature_b64)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidReceipt("not a compact JWS") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != ALGORITHM:
        raise InvalidReceipt("not an EdDSA receipt")
    if not isinstance(claims.get("iat"), int) or not isinstance(claims.get("exp"), int):
        raise InvalidReceipt("the receipt has no integer iat and exp")
    return _Parsed(header, claims, f"{header_b64}.{claims_b64}".encode(), signature)


def public_keys(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS by ``kid``; other key types are ignored."""
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks.get("keys", []) if isinstance(jwks.get("keys"), list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            keys[str(jwk["kid"])] = Ed25519PublicKey.from_public_bytes(_b64url_decode(str(jwk["x"])))
        except (KeyError, ValueError, binascii.Error):
            continue
    return keys


class KeySet:
    """The published keys, cached; fetched again (once per call) when a receipt names an unknown ``kid``.

    ``pinned`` keys (shipped with the program) are always trusted and never replaced by fetched ones; when
    given, fetched keys are not trusted at all, so a JWKS from a tampered cache file cannot be used."""

    def __init__(self, fetch: Callable[[], Mapping[str, Any]], pinned: Mapping[str, Any] | None = None) -> None:
        self._fetch = fetch
        self._pinned = public_keys(pinned) if pinned is not None else None
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._document: Mapping[str, Any] | None = None
        self._lock = threading.Lock()

    @property
    def document(self) -> Mapping[str, Any] | None:
        """The last JWKS fetched (for the file cache)."""
        return self._document

    def load(self, document: Mapping[str, Any]) -> None:
        """Trust a JWKS fetched earlier (from the file cache), unless keys are pinned."""
        with self._lock:
            if self._pinned is None:
                self._keys = public_keys(document)
                self._document = document

    def key(self, kid: str, may_fetch: bool) -> Ed25519PublicKey | None:
        if self._pinned is not None:
            return self._pinned.get(kid)
        with self._lock:
            known = self._keys.get(kid)
        if known is not None or not may_fetch:
            return known
        document = self._fetch()
        with self._lock:
            self._keys = public_keys(document)
            self._document = document
            return self._keys.get(kid)


class ReceiptVerifier:
    def __init__(self, keys: KeySet, max_clock_drift_s: float) -> None:
        self._keys = keys
        self._drift = max_clock_drift_s

    def verify(self, token: str, now: float, *, online: bool) -> Receipt:
        """The receipt, if signed by a published key and valid at ``now``; raises ``InvalidReceipt`` (or its
        subclasses ``ClockTampered`` and ``ReceiptExpired``). Online (a receipt just received) an unknown
        ``kid`` fetches the JWKS again and ``exp`` is allowed the drift bound; offline (a stored receipt) the
        keys are not fetched and ``exp`` is strict."""
        parsed = _parse(token)
        public_key = self._keys.key(str(parsed.header.get("kid", "")), may_fetch=online)
        if public_key is None:
            raise InvalidReceipt("signed by a key that is not published")
        try:
            public_key.verify(parsed.signature, parsed.signing_input)
        except InvalidSignature as exc:
            raise InvalidReceipt("the signature does not match") from exc
        receipt = Receipt(token, parsed.claims)
        check_time(receipt.iat, now, self._drift)
        if now >= receipt.exp + (self._drift if online else 0):
            raise ReceiptExpired(f"the receipt expired at {receipt.expires_at.isoformat()}")
        return receipt


def check_time(proven_s: float, now: float, max_clock_drift_s: float) -> None:
    """Refuse a local clock that is behind a time the service has signed for (beyond the drift bound)."""
    if proven_s > now + max_clock_drift_s:
        raise ClockTampered(
            f"the local clock ({int(now)}) is {int(proven_s - now)} s behind a signed receipt; "
            f"more than the {int(max_clock_drift_s)} s drift allowed"
        )
