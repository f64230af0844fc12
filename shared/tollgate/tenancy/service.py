"""Signing up, authenticating portal callers, and managing a tenant's API keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from tollgate.core import limits
from tollgate.core.clock import Clock
from tollgate.core.errors import Forbidden, IdempotencyKeyReused, InvalidField, NotFound, Unauthenticated
from tollgate.core.ids import IdGenerator
from tollgate.core.models import ApiKey, Principal, Tenant, TenantStatus
from tollgate.core.ports import AlreadyExists, PaymentGateway, TenantRepository
from tollgate.core.roles import Role, may_grant
from tollgate.tenancy import rules as credentials
from tollgate.tenancy.rules_email import NotAnEmail, email_address

SIGNUP_REPLAY_WINDOW_S = 24 * 3600
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True)
class SignupRequest:
    name: str
    email: str
    home_region: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.name.strip()) <= 200:
            raise InvalidField("name", "must be 1 to 200 characters")
        if len(self.email) > limits.EMAIL_MAX:
            raise InvalidField("email", f"must be at most {limits.EMAIL_MAX} characters")
        try:
            object.__setattr__(self, "email", email_address(self.email))  # frozen: normalized once, here
        except NotAnEmail as exc:
            raise InvalidField("email", str(exc)) from exc
        if not _REGION.match(self.home_region):
            raise InvalidField("home_region", "must be an AWS region name such as eu-west-1")

    def fingerprint(self) -> str:
        body = json.dumps([self.name, self.email, self.home_region], separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    """An API key with its secret, which exists only in this answer."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class SignupResult:
    tenant: Tenant
    owner_key: IssuedApiKey
    replayed: bool = False


class _DerivedIds:
    """Ids and secret derived from an Idempotency-Key with a server-side pepper, so a retried signup
    answers with the same credential without it ever being stored in clear."""

    def __init__(self, pepper: str, idempotency_key: str) -> None:
        self._seed = hmac.new(pepper.encode(), f"signup|{idempotency_key}".encode(), hashlib.sha512).digest()

    def _token(self, offset: int, length: int) -> str:
        return "".join(_ALPHABET[b % 32] for b in self._seed[offset : offset + length])

    def tenant_id(self) -> str:
        return f"tn_{self._token(0, 16)}"

    def key_id(self) -> str:
        return f"ak_{self._token(16, 16)}"

    def secret(self) -> str:
        return self._token(32, 32)


class TenantService:
    def __init__(
        self,
        tenants: TenantRepository,
        payments: PaymentGateway,
        clock: Clock,
        ids: IdGenerator,
        pepper: Callable[[], str],
    ) -> None:
        self._tenants = tenants
        self._payments = payments
        self._clock = clock
        self._ids = ids
        self._pepper = pepper

    def sign_up(self, request: SignupRequest, idempotency_key: str | None) -> SignupResult:
        if idempotency_key is not None:
            derived = _DerivedIds(self._pepper(), idempotency_key)
            tenant_id, key_id, secret = derived.tenant_id(), derived.key_id(), derived.secret()
            if self._exists(tenant_id):  # a retry: answer it without asking the payment provider again
                return self._replay(tenant_id, key_id, credentials.format_api_key(tenant_id, key_id, secret), request)
        else:
            tenant_id, key_id, secret = self._ids.new_id("tn"), self._ids.new_id("ak"), self._ids.new_secret()
        now = self._clock.now()
        customer_id = self._payments.create_customer(
            tenant_id, request.name, request.email, idempotency_key=f"tollgate-signup-{tenant_id}"
        )
        tenant = Tenant(
            id=tenant_id,
            name=request.name.strip(),
            email=request.email,
            home_region=request.home_region,
            status=TenantStatus.ACTIVE,
            created_at=now,
            stripe_customer_id=customer_id,
        )
        plain = credentials.format_api_key(tenant_id, key_id, secret)
        owner = ApiKey(
            id=key_id,
            tenant_id=tenant_id,
            name="owner",
            role=Role.OWNER,
            display=credentials.display_prefix(plain),
            secret_hash=credentials.hash_secret(plain),
            created_at=now,
        )
        try:
            self._tenants.create_tenant(tenant, owner, request.fingerprint())
        except AlreadyExists:
            return self._replay(tenant_id, key_id, plain, request)
        return SignupResult(tenant, IssuedApiKey(owner, plain))

    def _exists(self, tenant_id: str) -> bool:
        try:
            self._tenants.get_tenant(tenant_id)
        except NotFound:
            return False
        return True

    def _replay(self, tenant_id: str, key_id: str, plain: str, request: SignupRequest) -> SignupResult:
        existing = self._tenants.get_tenant(tenant_id)
        if self._tenants.signup_hash(tenant_id) != request.fingerprint():
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different signup")
        if self._clock.now() - existing.created_at > SIGNUP_REPLAY_WINDOW_S:
            raise IdempotencyKeyReused("this Idempotency-Key was used more than 24 hours ago")
        found = self._tenants.get_credential(tenant_id, key_id)
        if found is None:
            raise NotFound("the owner key of this signup no longer exists")
        return SignupResult(existing, IssuedApiKey(found[1], plain), replayed=True)

    def authenticate(self, credential: str | None) -> Principal:
        """The one place a portal credential becomes a tenant and a role."""
        parsed = credentials.parse_api_key(credential or "")
        if parsed is None:
            raise Unauthenticated("a tenant API key (Authorization: Bearer tg_…) is required")
        found = self._tenants.get_credential(parsed.tenant_id, parsed.key_id)
        if found is None:
            raise Unauthenticated("unknown API key")
        tenant, key = found
        if not credentials.same_hash(key.secret_hash, parsed.secret_hash) or not key.active:
            raise Unauthenticated("unknown or revoked API key")
        return Principal(tenant=tenant, key_id=key.id, role=key.role)

    def create_api_key(self, principal: Principal, name: str, role: Role) -> IssuedApiKey:
        creator = _role_of(principal)  # the route states MANAGE_API_KEYS; which roles this one may grant is here
        if not may_grant(creator, role):
            raise Forbidden(f"role {creator.value} may not create {role.value} keys")
        key_id, secret = self._ids.new_id("ak"), self._ids.new_secret()
        plain = credentials.format_api_key(principal.tenant_id, key_id, secret)
        key = ApiKey(
            id=key_id,
            tenant_id=principal.tenant_id,
            name=name,
            role=role,
            display=credentials.display_prefix(plain),
            secret_hash=credentials.hash_secret(plain),
            created_at=self._clock.now(),
            created_by=principal.key_id,
        )
        self._tenants.add_api_key(key)
        return IssuedApiKey(key, plain)

    def list_api_keys(self, principal: Principal) -> list[ApiKey]:
        return self._tenants.list_api_keys(principal.tenant_id)

    def revoke_api_key(self, principal: Principal, key_id: str) -> ApiKey:
        creator = _role_of(principal)
        found = self._tenants.get_credential(principal.tenant_id, key_id)
        if found is None:
            raise NotFound(f"no API key {key_id}")
        if not may_grant(creator, found[1].role):
            raise Forbidden(f"role {creator.value} may not revoke {found[1].role.value} keys")
        return self._tenants.revoke_api_key(principal.tenant_id, key_id, self._clock.now())

    def list_tenants(self) -> list[Tenant]:
        """Operators only (the command-line tool)."""
        return self._tenants.list_tenants()

    def tenant(self, tenant_id: str) -> Tenant:
        """Operators only (the command-line tool): one tenant and its pool; ``NotFound`` if absent."""
        return self._tenants.get_tenant(tenant_id)

    def set_status(self, tenant_id: str, status: TenantStatus) -> Tenant:
        """Operators only (the command-line tool): suspend or resume a tenant."""
        return self._tenants.set_status(tenant_id, status)


def _role_of(principal: Principal) -> Role:
    if principal.role is None:
        raise Forbidden("a tenant API key is required for this route")
    return principal.role
