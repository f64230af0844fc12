"""Who calls and what each may do: the principal, the roles of tenant API keys and the permission matrix
(documented in docs/api.md). ``Principal`` lives beside ``Role`` so that neither module imports the other
(``models`` re-exports it)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tollgate.core.errors import Forbidden
from tollgate.core.records import LicenseKey, Tenant


class Role(str, Enum):
    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    APPROVER = "approver"
    MEMBER = "member"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the authenticated tenant and the credential's role (or license-key scope)."""

    tenant: Tenant
    key_id: str
    role: Role | None = None
    license_key: LicenseKey | None = None
    # True when the key's scope came from this container's recent read instead of a read for this call: the
    # write must then prove the key (same hash, not revoked) and the tenant (active) itself; ``tenant.pool``
    # is not current.
    key_from_memory: bool = False

    @property
    def tenant_id(self) -> str:
        return self.tenant.id

    @property
    def actor(self) -> str:
        return f"{'license_key' if self.license_key else 'api_key'}:{self.key_id}"


class Permission(str, Enum):
    READ_TENANT = "tenant:read"
    READ_API_KEYS = "api_keys:read"
    MANAGE_API_KEYS = "api_keys:manage"
    READ_CATALOG = "catalog:read"
    READ_PURCHASES = "purchases:read"
    BUY = "purchases:create"
    READ_BALANCE = "balance:read"
    READ_LEDGER = "ledger:read"
    READ_PROJECTS = "projects:read"
    MANAGE_PROJECTS = "projects:manage"
    READ_LICENSE_KEYS = "license_keys:read"
    MANAGE_LICENSE_KEYS = "license_keys:manage"
    CONSUME = "tokens:consume"
    READ_USAGE = "usage:read"
    MANAGE_ALERTS = "alerts:manage"
    READ_POLICY = "policy:read"  # the policy and its simulator
    MANAGE_POLICY = "policy:manage"
    READ_DECISIONS = "decisions:read"
    READ_EVENTS = "events:read"
    MANAGE_WEBHOOKS = "webhooks:manage"  # owner and admin: endpoints, their secrets, tests and deliveries
    READ_BUDGETS = "budgets:read"
    MANAGE_BUDGETS = "budgets:manage"


_EVERYONE = frozenset(Role)
_ALL = {Permission.READ_TENANT, Permission.READ_CATALOG, Permission.READ_BALANCE, Permission.READ_PROJECTS}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission),
    Role.BILLING: frozenset(
        _ALL
        | {
            Permission.READ_PURCHASES,
            Permission.BUY,
            Permission.READ_LEDGER,
            Permission.READ_USAGE,
            Permission.MANAGE_ALERTS,
            Permission.READ_EVENTS,
            Permission.READ_BUDGETS,
            Permission.MANAGE_BUDGETS,
        }
    ),
    Role.APPROVER: frozenset(_ALL | {Permission.READ_POLICY, Permission.READ_DECISIONS}),
    Role.MEMBER: frozenset(_ALL | {Permission.READ_LICENSE_KEYS, Permission.CONSUME}),
    Role.AUDITOR: frozenset(
        _ALL
        | {
            Permission.READ_API_KEYS,
            Permission.READ_PURCHASES,
            Permission.READ_LEDGER,
            Permission.READ_LICENSE_KEYS,
            Permission.READ_USAGE,
            Permission.READ_POLICY,
            Permission.READ_DECISIONS,
            Permission.READ_EVENTS,
            Permission.READ_BUDGETS,
        }
    ),
}


# What a license key (the vendor SDK's credential) may do; its feature, project and region scope narrow it.
LICENSE_KEY_PERMISSIONS = frozenset({Permission.CONSUME})


def authorize(caller: Principal, permission: Permission) -> None:
    """Whether ``caller`` holds ``permission`` (the gate asks this of the permission each route states, once):
    an API key by its role, a license key by ``LICENSE_KEY_PERMISSIONS``; anything else is refused."""
    if caller.role is not None:
        require(caller.role, permission)
    elif caller.license_key is not None:
        if permission not in LICENSE_KEY_PERMISSIONS:
            raise Forbidden(f"a license key may not {permission.value}")
    else:
        raise Forbidden(f"this credential may not {permission.value}")


def require(role: Role, permission: Permission) -> None:
    if permission not in PERMISSIONS[role]:
        raise Forbidden(f"role {role.value} may not {permission.value}")


def may_grant(creator: Role, new_role: Role) -> bool:
    """Only an owner creates owners; admins create every other role; nobody else creates keys."""
    if creator is Role.OWNER:
        return True
    return creator is Role.ADMIN and new_role is not Role.OWNER
