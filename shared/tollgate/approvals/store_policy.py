"""The tenant's action policy: one item (pk ``T#<tenant>``, sk ``POLICY``), versioned.

- ``read_policy``: the stored policy; version 0, no rules and ``default_effect: allow`` when there is none.
- ``put_policy``: conditioned on the stored version being ``if_match`` (0: no item yet), writes version
  ``if_match + 1``; ``PreconditionFailed`` otherwise (HTTP 412).
- the condition a spend's transaction carries so that it commits only while the policy is still the version
  the container evaluated is the kernel's (``tollgate.kernel.policy_check``): every spending store uses it.
"""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from tollgate.approvals.rules import Policy, policy_from_document
from tollgate.core.errors import PreconditionFailed
from tollgate.core.ports import LicenseKeyRepository, TenantRepository
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy, with_retries
from tollgate.kernel.items import PolicyItem
from tollgate.kernel.policy_check import version_is


def read_policy(tenant_id: str) -> Policy:
    stored = _read(tenant_id)
    if stored is None:
        return Policy()
    return policy_from_document(int(stored.version), dict(stored.document))


def _read(tenant_id: str) -> PolicyItem | None:
    try:
        with busy_as_store_busy():
            return PolicyItem.get(keys.tenant_pk(tenant_id), keys.POLICY_SK, consistent_read=True)
    except DoesNotExist:
        return None


def put_policy(tenant_id: str, document: dict[str, Any], if_match: int, now: int, actor: str) -> Policy:
    """Store ``document`` as version ``if_match + 1``; ``PreconditionFailed`` unless the stored version is
    ``if_match``. A retry after a lost answer finds its own write and succeeds."""
    item = PolicyItem(
        keys.tenant_pk(tenant_id),
        keys.POLICY_SK,
        version=if_match + 1,
        document=document,
        updated_at=now,
        updated_by=actor,
    )
    try:
        with_retries(lambda: item.save(condition=version_is(if_match)))
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        stored = _read(tenant_id)
        ours = (
            stored is not None
            and int(stored.version) == if_match + 1
            and stored.updated_by == actor
            and stored.updated_at == now
            and dict(stored.document) == document
        )
        if not ours:
            current = 0 if stored is None else int(stored.version)
            raise PreconditionFailed(
                f'the policy is at version {current}, not {if_match}; read it again and send If-Match: "{current}"'
            ) from exc
    return policy_from_document(if_match + 1, document)


class DynamoPolicyRepository:
    """``tollgate.approvals.service_policy.PolicyRepository`` on the table."""

    def read(self, tenant_id: str) -> Policy:
        return read_policy(tenant_id)

    def put(self, tenant_id: str, document: dict[str, Any], if_match: int, now: int, actor: str) -> Policy:
        return put_policy(tenant_id, document, if_match, now, actor)


class ActiveKeyDirectory:
    """``tollgate.approvals.service_policy.KeyDirectory``: the tenant's keys that are not revoked, read through
    the tenancy and keys capabilities' repositories (handed in by the composition root, so that approvals
    imports neither capability's store)."""

    def __init__(self, tenants: TenantRepository, license_keys: LicenseKeyRepository) -> None:
        self._tenants = tenants
        self._license_keys = license_keys

    def api_key_ids(self, tenant_id: str) -> set[str]:
        return {key.id for key in self._tenants.list_api_keys(tenant_id) if key.revoked_at is None}

    def license_key_ids(self, tenant_id: str) -> set[str]:
        return {key.id for key in self._license_keys.list_license_keys(tenant_id) if key.revoked_at is None}


class CachedPolicySource:
    """``tollgate.approvals.service_spend.PolicySource``: each tenant's policy as this container last read it.

    The cache needs no invalidation to be safe: a spend's write is conditioned on the version it was decided
    under, and a refusal is always checked against a fresh read. ``ttl_s`` only bounds how long a tenant's
    entry is kept; at most ``max_tenants`` are kept (the oldest read goes first)."""

    def __init__(self, ttl_s: float = 300.0, max_tenants: int = 1024) -> None:
        self._ttl_s = ttl_s
        self._max = max_tenants
        self._entries: dict[str, tuple[float, Policy]] = {}

    def policy(self, tenant_id: str, fresh: bool = False) -> Policy:
        now = time.monotonic()
        entry = self._entries.get(tenant_id)
        if not fresh and entry is not None and now - entry[0] < self._ttl_s:
            return entry[1]
        policy = read_policy(tenant_id)
        self._entries.pop(tenant_id, None)
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))
        self._entries[tenant_id] = (now, policy)
        return policy

    def forget(self) -> None:
        self._entries.clear()
