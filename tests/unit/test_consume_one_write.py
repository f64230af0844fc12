"""``Prefer: return=minimal``: a license key read recently by this container is taken from memory, and the
consume is one DynamoDB request: the debit transaction, which itself proves the key (same secret, not
revoked) and the tenant (active)."""

from __future__ import annotations

import os
from typing import Any

import boto3
import botocore.client
import pytest

from tests.unit.licensing import NOW, Licensing
from tollgate.core.errors import TenantSuspended, Unauthenticated
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Feature, TenantStatus
from tollgate.keys.service import MEMORY_S
from tollgate.pool.service import PoolService

_real_call = botocore.client.BaseClient._make_api_call


class World(Licensing):
    def __init__(self) -> None:
        super().__init__(boto3.Session().client("dynamodb", region_name=os.environ["AWS_REGION"]))
        from tollgate.pool.store import DynamoPoolRepository
        from tollgate.purchases.store_catalog import DynamoCatalogRepository

        self.catalog = DynamoCatalogRepository(self.clock)
        self.catalog.put_feature(Feature("build", cost_per_use=2, cost_per_hour=0))
        self.pools = DynamoPoolRepository()
        self.pool = PoolService(self.pools, self.catalog, self.clock, RANDOM_IDS)
        self.catalog.features()  # load the catalog cache now, so it is not counted below

    def ready_key(self, tokens: int = 100) -> tuple[str, str]:
        owner = self.owner()
        self.pool.grant(owner.tenant_id, tokens, "test", "operator:test")
        return self.issue(owner).secret, owner.tenant_id

    def consume(self, secret: str, key: str) -> tuple[int, dict[str, Any]]:
        caller = self.keys.authenticate_from_memory(secret)
        return self.pool.consume(caller, "build", 1, key, minimal=True)


@pytest.fixture
def world(table: str) -> World:
    return World()


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        sent.append(operation)
        return _real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return sent


def test_first_call_reads_then_every_call_is_one_write(world: World, requests: list[str]) -> None:
    secret, tenant_id = world.ready_key()
    requests.clear()
    status, body = world.consume(secret, "a")
    assert status == 200 and "balance_after" not in body
    assert requests == ["BatchGetItem", "TransactWriteItems"]
    requests.clear()
    for n in range(3):
        assert world.consume(secret, f"b{n}")[0] == 200
    assert requests == ["TransactWriteItems"] * 3
    assert world.pools.pool(tenant_id).balance == 100 - 4 * 2


def test_a_revoked_key_is_refused_by_the_write_itself(world: World) -> None:
    secret, tenant_id = world.ready_key()
    world.consume(secret, "a")  # now in memory
    key_id = secret.split(".")[2]
    world.keys._keys.revoke_license_key(tenant_id, key_id, NOW)  # as DELETE /v1/keys/{id} does
    with pytest.raises(Unauthenticated):
        world.consume(secret, "b")
    assert world.pools.pool(tenant_id).balance == 98


def test_a_rotated_secret_is_refused_by_the_write_itself(world: World) -> None:
    secret, tenant_id = world.ready_key()
    world.consume(secret, "a")
    key_id = secret.split(".")[2]
    world.keys._keys.replace_secret(tenant_id, key_id, "0" * 64, "display", NOW)
    with pytest.raises(Unauthenticated):
        world.consume(secret, "b")
    assert world.pools.pool(tenant_id).balance == 98


def test_a_suspended_tenant_is_refused_by_the_write_itself(world: World) -> None:
    secret, tenant_id = world.ready_key()
    world.consume(secret, "a")
    world.tenant_repo.set_status(tenant_id, TenantStatus.SUSPENDED)
    with pytest.raises(TenantSuspended):
        world.consume(secret, "b")
    assert world.pools.pool(tenant_id).balance == 98


def test_memory_fades_and_expiry_is_checked_against_the_clock(world: World, requests: list[str]) -> None:
    secret, _ = world.ready_key()
    world.consume(secret, "a")
    world.clock.advance(MEMORY_S)
    requests.clear()
    world.consume(secret, "b")
    assert requests[0] == "BatchGetItem"  # read again once the memory is older than MEMORY_S


def test_a_retry_returns_the_first_minimal_answer(world: World) -> None:
    secret, tenant_id = world.ready_key()
    first = world.consume(secret, "same")
    assert world.consume(secret, "same") == first
    assert world.pools.pool(tenant_id).balance == 98
