"""The license-key read of the SDK's hot path: tenant, key and (optionally) project in ONE strongly
consistent BatchGetItem, through a plain botocore client (``tollgate.kernel.client.new_client``: the one
settings and retry layer).

Deliberately not pynamodb: the validation function must load in about the time botocore and one DynamoDB
client take (docs/performance.md), and pynamodb adds ~200 ms of imports. Keys still come from
``tollgate.kernel.keys`` only, and every key is built from the tenant id inside the presented credential.
Consistent reads cost 1 read unit per item (up to 4 KB) and show a revocation or a suspension at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tollgate.core.errors import StoreBusy
from tollgate.core.limits import is_id
from tollgate.core.records import LicenseKey, LicenseKeySnapshot, Pool, Tenant, TenantStatus
from tollgate.core.settings import settings
from tollgate.kernel import keys
from tollgate.kernel.client import BUSY_CODES

_UNPROCESSED_ATTEMPTS = 3


def _value(attribute: Mapping[str, Any]) -> Any:
    """One DynamoDB attribute value as plain Python (the types these items use)."""
    kind, raw = next(iter(attribute.items()))
    if kind == "S":
        return raw
    if kind == "N":
        return int(raw) if raw.lstrip("-").isdigit() else float(raw)
    if kind == "SS":
        return set(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "L":
        return [_value(v) for v in raw]
    if kind == "M":
        return {k: _value(v) for k, v in raw.items()}
    return raw


def _get(item: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """One attribute of a typed item as plain Python; only the attributes a record needs are converted
    (strings, the most of them, without a call)."""
    attribute = item.get(name)
    if attribute is None:
        return default
    text = attribute.get("S")
    return text if text is not None else _value(attribute)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


_STATUSES = {status.value: status for status in TenantStatus}  # a lookup: calling an Enum runs enum.py's code


def tenant_from_item(item: Mapping[str, Any]) -> Tenant:
    """A tenant from its item as DynamoDB answers it (typed attributes: ``{"S": ...}``, ``{"N": ...}``)."""
    return Tenant(
        id=_get(item, "tenant_id"),
        name=_get(item, "name", ""),
        email=_get(item, "email", ""),
        home_region=_get(item, "home_region", ""),
        status=_STATUSES[_get(item, "status")],
        created_at=int(_get(item, "created_at", 0)),
        stripe_customer_id=_get(item, "stripe_customer_id"),
        pool=Pool(
            balance=int(_get(item, "balance", 0)),
            reserved=int(_get(item, "reserved", 0)),
            next_lot_expiry=_optional_int(_get(item, "next_lot_expiry")),
        ),
    )


def license_key_from_item(tenant_id: str, item: Mapping[str, Any]) -> LicenseKey:
    """A license key from its typed item (as ``tenant_from_item``)."""
    features = _get(item, "features")
    return LicenseKey(
        id=_get(item, "key_id"),
        tenant_id=tenant_id,
        name=_get(item, "name", ""),
        display=_get(item, "display", ""),
        secret_hash=_get(item, "secret_hash"),
        regions=tuple(sorted(_get(item, "regions") or ())),
        created_at=int(_get(item, "created_at", 0)),
        features=None if features is None else tuple(sorted(features)),
        project_id=_get(item, "project_id"),
        environment=_get(item, "environment"),
        expires_at=_optional_int(_get(item, "expires_at")),
        revoked_at=_optional_int(_get(item, "revoked_at")),
        rotated_at=_optional_int(_get(item, "rotated_at")),
    )


class DynamoLicenseKeyReader:
    """Implements ``LicenseKeyReader`` with one BatchGetItem per snapshot."""

    def __init__(self, client: Any, table_name: str | None = None) -> None:
        self._client = client
        self._table = table_name or settings().table_name

    def reconnect(self, client: Any) -> None:
        """Reads through ``client`` from now on (after a SnapStart restore: this environment's connections
        and credentials, not the snapshotted ones)."""
        self._client = client

    def snapshot(self, tenant_id: str, key_id: str, project_id: str | None = None) -> LicenseKeySnapshot:
        pk, key_sk = keys.tenant_pk(tenant_id), keys.license_key_sk(key_id)
        wanted = [keys.TENANT_SK, key_sk]
        # a project of another shape than a project id is absent, and not read
        project_sk = keys.project_sk(project_id) if project_id and is_id(project_id, keys.PROJECT_ID) else None
        if project_sk is not None:
            wanted.append(project_sk)
        found = self._batch_get([{"pk": {"S": pk}, "sk": {"S": sk}} for sk in wanted])
        tenant_item, key_item = found.get(keys.TENANT_SK), found.get(key_sk)
        return LicenseKeySnapshot(
            tenant=None if tenant_item is None else tenant_from_item(tenant_item),
            key=None if key_item is None else license_key_from_item(tenant_id, key_item),
            project_exists=None if project_id is None else project_sk in found,
        )

    def _batch_get(self, item_keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The items found (typed, as DynamoDB answers them), by sort key. UnprocessedKeys (only under
        throttling) are asked for again."""
        found: dict[str, dict[str, Any]] = {}
        pending = item_keys
        for attempt in range(_UNPROCESSED_ATTEMPTS):
            try:
                response = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}}
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in BUSY_CODES:
                    raise StoreBusy() from exc
                raise
            except BotoCoreError as exc:  # connection failures after the client's retries (kernel.client)
                raise StoreBusy() from exc
            for item in response.get("Responses", {}).get(self._table, []):
                found[item["sk"]["S"]] = item
            pending = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not pending:
                return found
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter, not a secret
        raise StoreBusy()
