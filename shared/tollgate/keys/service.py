"""License keys for the vendor's SDK: issuing, listing, revoking and rotating them (portal), and turning a
presented key into a principal for the SDK routes (consume, leases).

A key is ``tgk_<home_region>.<tenant_id>.<key_id>.<secret>``; only the SHA-256 of the whole string is
stored, with a display prefix for people. Its scope: regions (names or groups, see ``regions``), optional
features (None: all), an optional project and environment, an optional expiry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tollgate.core.clock import Clock
from tollgate.core.errors import Conflict, Forbidden, InvalidField, RegionNotAllowed, TenantSuspended, Unauthenticated
from tollgate.core.ids import IdGenerator
from tollgate.core.limits import MAX_FUTURE_S, MIN_TIMESTAMP
from tollgate.core.models import LicenseKey, LicenseKeySnapshot, Principal
from tollgate.core.ports import LicenseKeyReader, LicenseKeyRepository
from tollgate.keys import rules as regions
from tollgate.keys.service_validation import MESSAGES, Code, ValidationRequest, decide, presented_key
from tollgate.tenancy import rules as credentials

KEY_ID_PREFIX = "lk"
EXPIRING_NOTICE_S = 7 * 86_400  # key.expiring is raised this long before a key's end (at once if sooner)
MEMORY_S = 300  # how long a container relies on a key it read, for the one-request consume
MEMORY_KEYS = 10_000
FEATURE_ID = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PROJECT_ID = re.compile(r"^[a-z]{2,3}_[0-9a-z]{16}$")


@dataclass(frozen=True)
class NewLicenseKey:
    """What the portal asks for; every field checked here, each error naming its field."""

    name: str
    regions: tuple[str, ...]
    features: tuple[str, ...] | None = None
    project_id: str | None = None
    environment: str | None = None
    expires_at: str | None = None  # ISO-8601 with a UTC offset; checked against the clock by the service

    def __post_init__(self) -> None:
        if not 1 <= len(self.name.strip()) <= 100:
            raise InvalidField("name", "must be 1 to 100 characters")
        object.__setattr__(self, "regions", regions.validate_scope("regions", list(self.regions)))
        if self.features is not None:
            if not self.features:
                raise InvalidField("features", "must be a non-empty list of feature ids (omit it for all features)")
            for feature in self.features:
                if not isinstance(feature, str) or not FEATURE_ID.match(feature):
                    raise InvalidField("features", "each must be a feature id such as report.export")
            object.__setattr__(self, "features", tuple(dict.fromkeys(self.features)))
        if self.project_id is not None and not PROJECT_ID.match(self.project_id):
            raise InvalidField("project_id", "must be a project id such as pj_0123456789abcdef")
        if self.environment is not None and not ENVIRONMENT.match(self.environment):
            raise InvalidField("environment", "must be 1 to 64 letters, digits, '.', '_' or '-'")


def parse_instant(field: str, text: str) -> int:
    """Seconds since the epoch from an ISO-8601 date-time that says its offset (``Z`` or ``+02:00``)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidField(field, "must be an ISO-8601 date-time such as 2027-01-31T00:00:00Z") from exc
    if moment.tzinfo is None:
        raise InvalidField(field, "must include a UTC offset, e.g. 2027-01-31T00:00:00Z")
    try:
        instant = int(moment.timestamp())
    except (OverflowError, ValueError) as exc:  # 9999-12-31T23:59:59-23:59 is in the year 10000
        raise InvalidField(field, "is out of range") from exc
    if instant < MIN_TIMESTAMP:
        raise InvalidField(field, "must not be before 2000")
    return instant


@dataclass(frozen=True)
class IssuedLicenseKey:
    """A license key with its secret, which exists only in this answer."""

    key: LicenseKey
    secret: str


_REFUSALS: dict[Code, Callable[[], Exception]] = {
    Code.NOT_FOUND: lambda: Unauthenticated("unknown license key"),
    Code.REVOKED: lambda: Unauthenticated("this license key was revoked"),
    Code.EXPIRED: lambda: Unauthenticated("this license key has expired"),
    Code.SUSPENDED: lambda: TenantSuspended("the tenant that owns this license key is suspended"),
    Code.REGION_NOT_ALLOWED: lambda: RegionNotAllowed("this license key may not be used in this region"),
}


class LicenseKeyService:
    def __init__(
        self,
        keys: LicenseKeyRepository,
        reader: LicenseKeyReader,
        clock: Clock,
        ids: IdGenerator,
        serving_region: Callable[[], str],
    ) -> None:
        self._keys = keys
        self._reader = reader
        self._clock = clock
        self._ids = ids
        self._serving_region = serving_region
        self._memory: dict[str, tuple[int, LicenseKeySnapshot]] = {}

    def issue(self, caller: Principal, request: NewLicenseKey) -> IssuedLicenseKey:
        now = self._clock.now()
        expires_at = None
        if request.expires_at is not None:
            expires_at = parse_instant("expires_at", request.expires_at)
            if expires_at <= now:
                raise InvalidField("expires_at", "must be in the future")
            if not MIN_TIMESTAMP <= expires_at <= now + MAX_FUTURE_S:
                raise InvalidField("expires_at", "must be at most ten years ahead")
        if request.project_id is not None and not self._keys.project_exists(caller.tenant_id, request.project_id):
            raise InvalidField("project_id", f"no project {request.project_id}")
        key_id, secret = self._ids.new_id(KEY_ID_PREFIX), self._ids.new_secret()
        plain = credentials.format_license_key(caller.tenant.home_region, caller.tenant_id, key_id, secret)
        key = LicenseKey(
            id=key_id,
            tenant_id=caller.tenant_id,
            name=request.name.strip(),
            display=credentials.display_prefix(plain),
            secret_hash=credentials.hash_secret(plain),
            regions=request.regions,
            created_at=now,
            features=request.features,
            project_id=request.project_id,
            environment=request.environment,
            expires_at=expires_at,
        )
        self._keys.add_license_key(key)
        return IssuedLicenseKey(key, plain)

    def list(self, caller: Principal) -> list[LicenseKey]:
        return self._keys.list_license_keys(caller.tenant_id)

    def revoke(self, caller: Principal, key_id: str) -> LicenseKey:
        return self._keys.revoke_license_key(caller.tenant_id, key_id, self._clock.now())

    def rotate(self, caller: Principal, key_id: str) -> IssuedLicenseKey:
        """A new secret for the same key id and scope; the old secret stops working at once."""
        current = self._keys.get_license_key(caller.tenant_id, key_id)
        if current.revoked_at is not None:
            raise Conflict(f"license key {key_id} is revoked; issue a new one")
        secret = self._ids.new_secret()
        plain = credentials.format_license_key(caller.tenant.home_region, caller.tenant_id, key_id, secret)
        display, secret_hash = credentials.display_prefix(plain), credentials.hash_secret(plain)
        key = self._keys.replace_secret(caller.tenant_id, key_id, secret_hash, display, self._clock.now())
        return IssuedLicenseKey(key, plain)

    def authenticate(self, credential: str | None, client_region: str | None = None) -> Principal:
        """The SDK routes' caller: the tenant and the license key with its scope, in one read. Refuses a
        key that ``decide`` would not call VALID for the regions (features and project are checked by the
        route that knows them, from ``principal.license_key``)."""
        presented = presented_key(credential)
        if client_region is not None and not regions.is_region_name(client_region):
            raise InvalidField("X-Tollgate-Region", "must be an AWS region name such as eu-west-1")
        snapshot = self._reader.snapshot(presented.tenant_id, presented.key_id)
        code = decide(
            presented,
            snapshot,
            ValidationRequest(region=client_region),
            self._serving_region(),
            self._clock.now(),
        )
        if code is not Code.VALID:
            raise _REFUSALS.get(code, lambda: Forbidden(MESSAGES[code]))()
        assert snapshot.tenant is not None
        assert snapshot.key is not None
        self._remember(presented.key_id, snapshot)
        return Principal(tenant=snapshot.tenant, key_id=snapshot.key.id, license_key=snapshot.key)

    def authenticate_to_wind_down(self, credential: str | None) -> Principal:
        """The caller of a route that only winds a hold down (a lease check-in, an allowance report, cancelling
        an action): never refused for what stops spending (SPEC.md, "Spending: one pipeline"). The key must
        be the tenant's and its secret right; a revoked or expired key, a suspended tenant or another region
        is let through, as the change charges only what was used. Whatever would spend or grow a hold goes
        through ``authenticate`` and the spending pipeline instead."""
        presented = presented_key(credential)
        snapshot = self._reader.snapshot(presented.tenant_id, presented.key_id)
        code = decide(presented, snapshot, ValidationRequest(), self._serving_region(), self._clock.now())
        if code is Code.NOT_FOUND:
            raise _REFUSALS.get(code, lambda: Forbidden(MESSAGES[code]))()
        assert snapshot.tenant is not None
        assert snapshot.key is not None
        return Principal(tenant=snapshot.tenant, key_id=snapshot.key.id, license_key=snapshot.key)

    def authenticate_from_memory(self, credential: str | None, client_region: str | None = None) -> Principal:
        """Like ``authenticate``, without a read when this container read the key in the last
        ``MEMORY_S`` seconds. What can change about a key (its secret, revocation) and its tenant (status)
        is then proven by the write itself (``Principal.key_from_memory``); what cannot change (scope,
        expiry, regions) is checked here against the clock and the request."""
        presented = presented_key(credential)
        remembered = self._memory.get(presented.key_id)
        now = self._clock.now()
        if remembered is None or now - remembered[0] >= MEMORY_S:
            return self.authenticate(credential, client_region)
        if client_region is not None and not regions.is_region_name(client_region):
            raise InvalidField("X-Tollgate-Region", "must be an AWS region name such as eu-west-1")
        snapshot = remembered[1]
        code = decide(presented, snapshot, ValidationRequest(region=client_region), self._serving_region(), now)
        if code is Code.NOT_FOUND:  # another secret than the one read: ask the table
            return self.authenticate(credential, client_region)
        if code is not Code.VALID:
            raise _REFUSALS.get(code, lambda: Forbidden(MESSAGES[code]))()
        assert snapshot.tenant is not None
        assert snapshot.key is not None
        return Principal(tenant=snapshot.tenant, key_id=snapshot.key.id, license_key=snapshot.key, key_from_memory=True)

    def _remember(self, key_id: str, snapshot: LicenseKeySnapshot) -> None:
        if len(self._memory) >= MEMORY_KEYS:
            self._memory.pop(next(iter(self._memory)))
        self._memory[key_id] = (self._clock.now(), snapshot)


def expiring_notice_at(key: LicenseKey) -> int | None:
    """When the sweeper raises ``key.expiring`` for ``key``: a week before its end, or at its creation if
    that is sooner; None for a key that never expires."""
    if key.expires_at is None:
        return None
    return max(key.created_at, key.expires_at - EXPIRING_NOTICE_S)
