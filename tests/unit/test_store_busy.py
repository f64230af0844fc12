"""Throttling and transaction conflicts (which DynamoDB Local never produces) are injected at the botocore
client: retried with backoff inside the data layer, then a 503 with Retry-After, never half-applied."""

from __future__ import annotations

from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from tests.unit.test_pool import World
from tollgate.core.errors import StoreBusy
from tollgate.edge.errors import error_response

_real_call = botocore.client.BaseClient._make_api_call


class Injector:
    def __init__(self) -> None:
        self.failures_left = 0
        self.code = "TransactionConflict"
        self.attempts = 0

    def __call__(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems":
            self.attempts += 1
            if self.failures_left > 0:
                self.failures_left -= 1
                reasons = [{"Code": "None"}] * (len(params["TransactItems"]) - 1) + [{"Code": self.code}]
                response = {
                    "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
                    "CancellationReasons": reasons,
                }
                raise ClientError(response, operation)  # type: ignore[arg-type]
        return _real_call(client, operation, params)


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> Injector:
    injected = Injector()
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", lambda c, o, p: injected(c, o, p))
    return injected


def test_conflicts_are_retried_and_the_debit_lands_once(table: str, injector: Injector) -> None:
    world = World()
    caller = world.tenant(10)
    injector.attempts = 0
    injector.failures_left = 2
    status, _ = world.pool.consume(caller, "build", 1, "k")
    assert status == 200 and injector.attempts == 3
    assert world.repo.pool(caller.tenant_id).balance == 7
    assert world.ledger_sum(caller) == 7


def test_persistent_conflict_is_store_busy_and_changes_nothing(table: str, injector: Injector) -> None:
    world = World()
    caller = world.tenant(10)
    injector.failures_left = 100
    with pytest.raises(StoreBusy) as error:
        world.pool.consume(caller, "build", 1, "k")
    injector.failures_left = 0
    assert world.repo.pool(caller.tenant_id).balance == 10
    assert world.ledger_sum(caller) == 10
    response = error_response(error.value, "req-1")
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"  # type: ignore[index]


def test_throttling_is_retried_too(table: str, injector: Injector) -> None:
    world = World()
    caller = world.tenant(10)
    injector.code = "ThrottlingError"
    injector.failures_left = 1
    assert world.pool.consume(caller, "build", 2, "k")[0] == 200
    assert world.repo.pool(caller.tenant_id).balance == 4
