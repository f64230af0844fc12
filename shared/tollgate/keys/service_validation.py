"""The license-key decision (a pure function) and the validation service the SDK's hot path calls.

``decide`` is the one place that says whether a presented key may be used: ``POST /v1/validate`` reports
its code, and ``LicenseKeyService.authenticate`` (consume, leases) turns a refusal into an error. The
checks run in this order and the first that fails is the answer:

1. ``NOT_FOUND``: no such tenant, no such key under that tenant, or the secret does not match (a rotated-away
   secret, or a key id pasted under another tenant's id: nothing about the other tenant is read or told).
2. ``REVOKED``: the key was revoked.
3. ``EXPIRED``: the key's ``expires_at`` has passed (checked against the clock now, not by a sweeper).
4. ``SUSPENDED``: the tenant is suspended by the operator.
5. ``REGION_NOT_ALLOWED``: the serving deployment's region, or the region the client says it runs in, is
   outside the key's region scope (groups expanded now: see ``regions``).
6. ``PROJECT_NOT_ALLOWED``: the request names a project, and either the key is scoped to another project
   or the tenant has no such project (any more).
7. ``FEATURE_NOT_ENTITLED``: the request names a feature, and the key is scoped to features that do not
   include it. (Whether the feature is in the catalog is the consume path's concern.)
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from tollgate.core.errors import Unauthenticated
from tollgate.core.records import LicenseKey, LicenseKeySnapshot, TenantStatus
from tollgate.keys import rules as regions
from tollgate.keys.rules_receipts import RECEIPT_TTL_S
from tollgate.tenancy import rules as credentials
from tollgate.tenancy.rules import ParsedLicenseKey

if TYPE_CHECKING:  # annotations only: the validation function's import time is budgeted
    from tollgate.core.clock import Clock
    from tollgate.core.ports import LicenseKeyReader
    from tollgate.keys.rules_receipts import ReceiptSigner


class Code(StrEnum):
    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    REGION_NOT_ALLOWED = "REGION_NOT_ALLOWED"
    FEATURE_NOT_ENTITLED = "FEATURE_NOT_ENTITLED"
    PROJECT_NOT_ALLOWED = "PROJECT_NOT_ALLOWED"


MESSAGES: dict[Code, str] = {
    Code.VALID: "The license key is valid.",
    Code.NOT_FOUND: "No such license key.",
    Code.REVOKED: "This license key was revoked.",
    Code.EXPIRED: "This license key has expired.",
    Code.SUSPENDED: "The tenant that owns this license key is suspended.",
    Code.REGION_NOT_ALLOWED: "This license key may not be used in this region.",
    Code.FEATURE_NOT_ENTITLED: "This license key is not entitled to this feature.",
    Code.PROJECT_NOT_ALLOWED: "This license key may not be used for this project.",
}


class ValidationRequest(NamedTuple):  # NamedTuple, not a dataclass: see domain/tenancy.py
    feature: str | None = None
    region: str | None = None  # where the client says it runs
    fingerprint: str | None = None  # the client's machine fingerprint, echoed into the receipt
    project: str | None = None


def decide(
    presented: ParsedLicenseKey,
    snapshot: LicenseKeySnapshot,
    request: ValidationRequest,
    serving_region: str,
    now: int,
) -> Code:
    tenant, key = snapshot.tenant, snapshot.key
    if tenant is None or key is None or not credentials.same_hash(key.secret_hash, presented.secret_hash):
        return Code.NOT_FOUND
    if key.revoked_at is not None:
        return Code.REVOKED
    if key.expires_at is not None and now >= key.expires_at:
        return Code.EXPIRED
    if tenant.status is not TenantStatus.ACTIVE:
        return Code.SUSPENDED
    if not regions.allows(key.regions, serving_region):
        return Code.REGION_NOT_ALLOWED
    if request.region is not None and not regions.allows(key.regions, request.region):
        return Code.REGION_NOT_ALLOWED
    if request.project is not None and (
        (key.project_id is not None and key.project_id != request.project) or not snapshot.project_exists
    ):
        return Code.PROJECT_NOT_ALLOWED
    if request.feature is not None and key.features is not None and request.feature not in key.features:
        return Code.FEATURE_NOT_ENTITLED
    return Code.VALID


def presented_key(credential: str | None) -> ParsedLicenseKey:
    """The license key in a request, or ``Unauthenticated`` (HTTP 401) when there is none to parse."""
    presented = credentials.parse_license_key(credential or "")
    if presented is None:
        raise Unauthenticated("a license key (Authorization: Bearer tgk_…) is required")
    return presented


class ValidationResult(NamedTuple):
    code: Code
    key: LicenseKey | None  # None for NOT_FOUND: nothing is told about a key the caller cannot prove
    claims: dict[str, Any]
    receipt: str

    @property
    def valid(self) -> bool:
        return self.code is Code.VALID

    @property
    def message(self) -> str:
        return MESSAGES[self.code]


class ValidationService:
    """``POST /v1/validate``: one read, one decision, one signed receipt."""

    def __init__(
        self,
        reader: LicenseKeyReader,
        signer: ReceiptSigner,
        clock: Clock,
        serving_region: Callable[[], str],
    ) -> None:
        self._reader = reader
        self._signer = signer
        self._clock = clock
        self._serving_region = serving_region

    def validate(self, presented: ParsedLicenseKey, request: ValidationRequest) -> ValidationResult:
        snapshot = self._reader.snapshot(presented.tenant_id, presented.key_id, request.project)
        now = self._clock.now()
        serving_region = self._serving_region()
        code = decide(presented, snapshot, request, serving_region, now)
        key = None if code is Code.NOT_FOUND else snapshot.key
        expires = now + RECEIPT_TTL_S
        if key is not None and key.expires_at is not None and code is Code.VALID:
            expires = min(expires, key.expires_at)
        claims: dict[str, Any] = {
            "key_id": presented.key_id,
            "tenant_id": presented.tenant_id,
            "code": code.value,
            "valid": code is Code.VALID,
            "feature": request.feature,
            "region": request.region,
            "served_from": serving_region,
            "project": request.project,
            "fingerprint": request.fingerprint,
            "iat": now,
            "exp": expires,
            "kid": self._signer.kid,
        }
        return ValidationResult(code=code, key=key, claims=claims, receipt=self._signer.sign(claims))

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return self._signer.jwks()
