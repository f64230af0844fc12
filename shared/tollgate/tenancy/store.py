"""Tenants, their pool's profile side, and their API keys, stored with pynamodb."""

from __future__ import annotations

import secrets

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactGet

from tollgate.core.errors import NotFound
from tollgate.core.models import ApiKey, Pool, Tenant, TenantStatus
from tollgate.core.ports import AlreadyExists
from tollgate.core.roles import Role
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.connection import shared_connection
from tollgate.kernel.errors import busy_as_store_busy, update_existing
from tollgate.kernel.items import ApiKeyItem, TenantItem
from tollgate.kernel.pool import PoolTransaction, Refused


def to_tenant(item: TenantItem) -> Tenant:
    return Tenant(
        id=item.tenant_id,
        name=item.name,
        email=item.email,
        home_region=item.home_region,
        status=TenantStatus(item.status),
        created_at=int(item.created_at),
        stripe_customer_id=item.stripe_customer_id,
        pool=Pool(
            balance=int(item.balance),
            reserved=int(item.reserved),
            next_lot_expiry=None if item.next_lot_expiry is None else int(item.next_lot_expiry),
        ),
    )


def to_api_key(tenant_id: str, item: ApiKeyItem) -> ApiKey:
    return ApiKey(
        id=item.key_id,
        tenant_id=tenant_id,
        name=item.name,
        role=Role(item.role),
        display=item.display,
        secret_hash=item.secret_hash,
        created_at=int(item.created_at),
        created_by=item.created_by,
        revoked_at=None if item.revoked_at is None else int(item.revoked_at),
    )


def _api_key_item(key: ApiKey) -> ApiKeyItem:
    return ApiKeyItem(
        keys.tenant_pk(key.tenant_id),
        keys.api_key_sk(key.id),
        key_id=key.id,
        name=key.name,
        role=key.role.value,
        display=key.display,
        secret_hash=key.secret_hash,
        created_at=key.created_at,
        created_by=key.created_by,
    )


class DynamoTenantRepository:
    def create_tenant(self, tenant: Tenant, owner_key: ApiKey, signup_hash: str) -> None:
        item = TenantItem(
            keys.tenant_pk(tenant.id),
            keys.TENANT_SK,
            kind_pk=keys.KIND_TENANT,
            kind_sk=keys.tenant_kind_sk(tenant.created_at, tenant.id),
            tenant_id=tenant.id,
            name=tenant.name,
            email=tenant.email,
            home_region=tenant.home_region,
            created_at=tenant.created_at,
            stripe_customer_id=tenant.stripe_customer_id,
            signup_hash=signup_hash,
        )
        tx = PoolTransaction(tenant.id, kernel.token("tenant", tenant.id, signup_hash))
        tx.create_pool(item, tenant.status.value)
        tx.put("owner_key", _api_key_item(owner_key), ApiKeyItem.pk.does_not_exist())
        try:
            tx.commit()
        except Refused as refused:
            raise AlreadyExists(tenant.id) from refused

    def _tenant_item(self, tenant_id: str) -> TenantItem:
        try:
            with busy_as_store_busy():
                return TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK, consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no tenant {tenant_id}") from exc

    def get_tenant(self, tenant_id: str) -> Tenant:
        return to_tenant(self._tenant_item(tenant_id))

    def signup_hash(self, tenant_id: str) -> str | None:
        return self._tenant_item(tenant_id).signup_hash

    def get_credential(self, tenant_id: str, key_id: str) -> tuple[Tenant, ApiKey] | None:
        pk = keys.tenant_pk(tenant_id)
        try:
            with busy_as_store_busy(), TransactGet(connection=shared_connection()) as transaction:
                tenant_future = transaction.get(TenantItem, pk, keys.TENANT_SK)
                key_future = transaction.get(ApiKeyItem, pk, keys.api_key_sk(key_id))
            tenant_item, key_item = tenant_future.get(), key_future.get()
        except (DoesNotExist, TenantItem.DoesNotExist, ApiKeyItem.DoesNotExist):
            return None
        return to_tenant(tenant_item), to_api_key(tenant_id, key_item)

    def add_api_key(self, key: ApiKey) -> None:
        with busy_as_store_busy():
            _api_key_item(key).save(condition=ApiKeyItem.pk.does_not_exist())

    def list_api_keys(self, tenant_id: str) -> list[ApiKey]:
        with busy_as_store_busy():
            items = ApiKeyItem.query(keys.tenant_pk(tenant_id), ApiKeyItem.sk.startswith("APIKEY#"))
            return [to_api_key(tenant_id, item) for item in items]

    def revoke_api_key(self, tenant_id: str, key_id: str, at: int) -> ApiKey:
        item = ApiKeyItem(keys.tenant_pk(tenant_id), keys.api_key_sk(key_id))
        update_existing(item, [ApiKeyItem.revoked_at.set(ApiKeyItem.revoked_at | at)], f"no API key {key_id}")
        return to_api_key(tenant_id, item)

    def set_status(self, tenant_id: str, status: TenantStatus) -> Tenant:
        keys.tenant_pk(tenant_id)  # an id of another shape is not found before any write
        tx = PoolTransaction(tenant_id, kernel.token("tenant-status", tenant_id, status.value, secrets.token_hex(8)))
        try:
            tx.set_status(status.value).commit()
        except Refused as refused:
            raise NotFound(f"no tenant {tenant_id}") from refused
        return self.get_tenant(tenant_id)

    def list_tenants(self) -> list[Tenant]:
        with busy_as_store_busy():
            return [to_tenant(item) for item in TenantItem.by_kind.query(keys.KIND_TENANT)]
