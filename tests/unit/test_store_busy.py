"""Throttling and transaction conflicts (which DynamoDB Local never produces) are injected under the botocore
client's retry loop, where a real answer from DynamoDB would arrive: retried with backoff by the one retry
layer (``tollgate.kernel.client``), then a 503 with Retry-After, never half-applied."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import pytest
from botocore.exceptions import ReadTimeoutError

from tests.unit.test_pool import World
from tollgate.core.errors import StoreBusy
from tollgate.edge.errors import error_response

_real_response = botocore.endpoint.Endpoint._get_response


class Injector:
    def __init__(self) -> None:
        self.failures_left = 0
        self.code = "TransactionConflict"
        self.lost = False  # a timeout instead of an answer
        self.attempts = 0
        self.tokens: set[str] = set()

    def __call__(self, endpoint: Any, request: Any, operation: Any, context: Any) -> Any:
        if operation.name == "TransactWriteItems":
            self.attempts += 1
            self.tokens.add(json.loads(request.body)["ClientRequestToken"])
            if self.failures_left > 0:
                self.failures_left -= 1
                if self.lost:
                    return None, ReadTimeoutError(endpoint_url="http://dynamodb")
                reasons = [{"Code": "None"}] * 2 + [{"Code": self.code}]
                parsed = {
                    "Error": {"Code": "TransactionCanceledException", "Message": "injected"},
                    "CancellationReasons": reasons,
                    "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": {}},
                }
                return (SimpleNamespace(status_code=400, headers={}), parsed), None
        return _real_response(endpoint, request, operation, context)


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> Injector:
    injected = Injector()
    monkeypatch.setattr(botocore.endpoint.Endpoint, "_get_response", lambda e, r, o, c: injected(e, r, o, c))
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
    injector.attempts = 0
    with pytest.raises(StoreBusy) as error:
        world.pool.consume(caller, "build", 1, "k")
    assert injector.attempts == 6  # the one retry layer's attempts, not botocore's retries inside ours
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


def test_a_lost_answer_is_sent_again_with_the_same_token(table: str, injector: Injector) -> None:
    world = World()
    caller = world.tenant(10)
    injector.attempts, injector.tokens = 0, set()
    injector.lost, injector.failures_left = True, 2
    assert world.pool.consume(caller, "build", 1, "k")[0] == 200
    assert injector.attempts == 3 and len(injector.tokens) == 1
    assert world.repo.pool(caller.tenant_id).balance == 7
