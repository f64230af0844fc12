"""License keys as the portal manages them, stored with pynamodb (hash and scope only, never the secret).

The SDK's reads of a key do not come through here: ``validation_read`` answers them with one raw
BatchGetItem, so that the validation function never imports pynamodb.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, UpdateError

from tollgate.core.clock import Clock
from tollgate.core.errors import Conflict, NotFound
from tollgate.core.models import LicenseKey
from tollgate.events.rules import new_event
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.errors import busy_as_store_busy, update_existing
from tollgate.kernel.items import LicenseKeyItem, ProjectItem
from tollgate.kernel.pool import PoolTransaction, Refused
from tollgate.keys.service import expiring_notice_at

PURGE_AFTER_END_S = 90 * 86400  # an expired key stays listable for 90 days, then DynamoDB TTL may remove it


def to_license_key(tenant_id: str, item: LicenseKeyItem) -> LicenseKey:
    return LicenseKey(
        id=item.key_id,
        tenant_id=tenant_id,
        name=item.name,
        display=item.display,
        secret_hash=item.secret_hash,
        regions=tuple(sorted(item.regions)),
        created_at=int(item.created_at),
        features=None if item.features is None else tuple(sorted(item.features)),
        project_id=item.project_id,
        environment=item.environment,
        expires_at=None if item.expires_at is None else int(item.expires_at),
        revoked_at=None if item.revoked_at is None else int(item.revoked_at),
        rotated_at=None if item.rotated_at is None else int(item.rotated_at),
    )


def _item(key: LicenseKey) -> LicenseKeyItem:
    return LicenseKeyItem(
        keys.tenant_pk(key.tenant_id),
        keys.license_key_sk(key.id),
        key_id=key.id,
        name=key.name,
        display=key.display,
        secret_hash=key.secret_hash,
        regions=set(key.regions),
        features=None if key.features is None else set(key.features),
        project_id=key.project_id,
        environment=key.environment,
        created_at=key.created_at,
        expires_at=key.expires_at,
        purge_at=None if key.expires_at is None else key.expires_at + PURGE_AFTER_END_S,
        due_shard=None if key.expires_at is None else keys.DUE_SHARD,
        due_at=expiring_notice_at(key),
    )


class DynamoLicenseKeyRepository:
    def add_license_key(self, key: LicenseKey) -> None:
        with busy_as_store_busy():
            _item(key).save(condition=LicenseKeyItem.pk.does_not_exist())

    def list_license_keys(self, tenant_id: str) -> list[LicenseKey]:
        with busy_as_store_busy():
            items = LicenseKeyItem.query(
                keys.tenant_pk(tenant_id), LicenseKeyItem.sk.startswith(keys.LICENSE_KEY_SK_PREFIX)
            )
            return [to_license_key(tenant_id, item) for item in items]

    def get_license_key(self, tenant_id: str, key_id: str) -> LicenseKey:
        try:
            with busy_as_store_busy():
                item = LicenseKeyItem.get(keys.tenant_pk(tenant_id), keys.license_key_sk(key_id), consistent_read=True)
        except DoesNotExist as exc:
            raise NotFound(f"no license key {key_id}") from exc
        return to_license_key(tenant_id, item)

    def revoke_license_key(self, tenant_id: str, key_id: str, at: int) -> LicenseKey:
        item = LicenseKeyItem(keys.tenant_pk(tenant_id), keys.license_key_sk(key_id))
        revoke = LicenseKeyItem.revoked_at.set(LicenseKeyItem.revoked_at | at)  # a second revoke keeps the first time
        # a revoked key will not be told to expire: off the due index
        off_due = [LicenseKeyItem.due_shard.remove(), LicenseKeyItem.due_at.remove()]
        update_existing(item, [revoke, *off_due], f"no license key {key_id}")
        return to_license_key(tenant_id, item)

    def replace_secret(self, tenant_id: str, key_id: str, secret_hash: str, display: str, at: int) -> LicenseKey:
        item = LicenseKeyItem(keys.tenant_pk(tenant_id), keys.license_key_sk(key_id))
        try:
            with busy_as_store_busy():
                item.update(
                    actions=[
                        LicenseKeyItem.secret_hash.set(secret_hash),
                        LicenseKeyItem.display.set(display),
                        LicenseKeyItem.rotated_at.set(at),
                    ],
                    condition=LicenseKeyItem.pk.exists() & LicenseKeyItem.revoked_at.does_not_exist(),
                )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                self.get_license_key(tenant_id, key_id)  # NotFound when it is gone
                raise Conflict(f"license key {key_id} is revoked; issue a new one") from exc
            raise
        return to_license_key(tenant_id, item)

    def project_exists(self, tenant_id: str, project_id: str) -> bool:
        try:
            keys.project_sk(project_id)
        except NotFound:
            return False  # not the shape of a project id: no such project, and no read
        try:
            with busy_as_store_busy():
                ProjectItem.get(keys.tenant_pk(tenant_id), keys.project_sk(project_id), attributes_to_get=["pk"])
        except DoesNotExist:
            return False
        return True


class DynamoKeyNotices:
    """``key.expiring`` for the sweeper: once per key, in the transaction that takes the key off the due
    index, so two sweepers (or one run twice) write it once."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def notify_if_due(self, tenant_id: str, key_id: str) -> bool:
        try:
            with busy_as_store_busy():
                item = LicenseKeyItem.get(keys.tenant_pk(tenant_id), keys.license_key_sk(key_id), consistent_read=True)
        except DoesNotExist:
            return False
        now = self._clock.now()
        if item.due_at is None or int(item.due_at) > now:
            return False
        tx = PoolTransaction(tenant_id, kernel.token("key-expiring", key_id, str(item.due_at)))
        tx.update(
            "key",
            LicenseKeyItem(keys.tenant_pk(tenant_id), keys.license_key_sk(key_id)),
            [LicenseKeyItem.due_shard.remove(), LicenseKeyItem.due_at.remove()],
            LicenseKeyItem.due_at == item.due_at,
        )
        if item.revoked_at is None and item.expires_at is not None:
            data = {"key_id": key_id, "name": item.name, "expires_at": int(item.expires_at)}
            tx.event(new_event(tenant_id, "key.expiring", now, data, key_id, str(item.expires_at)))
        try:
            tx.commit()
        except Refused as refused:
            if "key" in refused:
                return False  # another sweeper did it
            raise
        return item.revoked_at is None
