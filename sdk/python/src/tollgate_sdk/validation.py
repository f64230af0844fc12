"""``validate``: online, the service's signed receipt checked against its JWKS; offline (the service
unreachable), the last receipt verified for the same request, while it is unexpired.

The answer comes from the *signed* claims, never from the unsigned JSON around them, and a receipt must be
for this request (same key id, feature, region, project, fingerprint).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from tollgate_sdk.api import ApiCaller
from tollgate_sdk.errors import (
    VALIDATION_ERRORS,
    APIError,
    InvalidReceipt,
    RateLimited,
    ReceiptExpired,
    Unavailable,
)
from tollgate_sdk.receipt_store import ReceiptStore, request_id
from tollgate_sdk.receipts import Receipt, ReceiptVerifier, check_time

VALIDATE_PATH = "/v1/validate"
JWKS_PATH = "/v1/.well-known/jwks.json"
_CLAIMED_FIELDS = ("feature", "region", "project", "fingerprint")


@dataclass(frozen=True)
class Validation:
    """The result of one validation. ``offline`` is True when it came from a stored receipt."""

    valid: bool
    code: str
    receipt: Receipt
    offline: bool

    @property
    def expires_at(self) -> datetime:
        """Until when this answer holds (the receipt's end; aware, UTC)."""
        return self.receipt.expires_at

    @property
    def issued_at(self) -> datetime:
        """When the service gave this answer (aware, UTC); older than now when ``offline``."""
        return self.receipt.issued_at

    def raise_if_invalid(self) -> Validation:
        """This validation if valid; else raises the error for its code (``KeyRevoked``, ``NotEntitled``…)."""
        if self.valid:
            return self
        kind = VALIDATION_ERRORS.get(self.code, APIError)
        raise kind(f"the license key is not valid here: {self.code}", code=self.code)


def key_id_of(license_key: str) -> str | None:
    """The key id inside ``tgk_<region>.<tenant>.<key>.<secret>``."""
    parts = license_key.split(".")
    return parts[2] if license_key.startswith("tgk_") and len(parts) == 4 else None


class Validator:
    def __init__(
        self,
        api: ApiCaller,
        license_key: str,
        verifier: ReceiptVerifier,
        store: ReceiptStore,
        max_clock_drift_s: float,
        jwks_document: Callable[[], Mapping[str, Any] | None],
    ) -> None:
        self._api = api
        self._license_key = license_key
        self._key_id = key_id_of(license_key)
        self._verifier = verifier
        self._store = store
        self._drift = max_clock_drift_s
        self._jwks_document = jwks_document

    def validate(self, fields: Mapping[str, str | None]) -> Validation:
        request = request_id(self._license_key, fields)
        body = {name: value for name, value in fields.items() if value is not None}
        try:
            answer = self._api.call("POST", VALIDATE_PATH, body)
            token = answer.get("receipt") if isinstance(answer, dict) else None
            if not isinstance(token, str):
                raise InvalidReceipt("the service answered without a receipt")
            receipt = self._verifier.verify(token, self._api.clock.now(), online=True)  # may fetch the JWKS
        except (Unavailable, RateLimited) as unreachable:
            return self._offline(request, fields, unreachable)
        self._check_for_request(receipt, fields)
        self._store.remember(request, token, receipt.iat, self._jwks_document())
        return Validation(valid=receipt.valid, code=receipt.code, receipt=receipt, offline=False)

    def _offline(self, request: str, fields: Mapping[str, str | None], unreachable: APIError) -> Validation:
        now = self._api.clock.now()
        check_time(self._store.proven_time, now, self._drift)
        token = self._store.last(request)
        if token is None:
            raise unreachable
        try:
            receipt = self._verifier.verify(token, now, online=False)
        except ReceiptExpired:
            raise unreachable from None
        self._check_for_request(receipt, fields)
        return Validation(valid=receipt.valid, code=receipt.code, receipt=receipt, offline=True)

    def _check_for_request(self, receipt: Receipt, fields: Mapping[str, str | None]) -> None:
        claims = receipt.claims
        if self._key_id is not None and claims.get("key_id") != self._key_id:
            raise InvalidReceipt("the receipt is for another license key")
        for name in _CLAIMED_FIELDS:
            if claims.get(name) != fields.get(name):
                raise InvalidReceipt(f"the receipt is for another request ({name} differs)")
