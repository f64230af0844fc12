"""Alerts: the pure rules (when one holds, fires, recovers) and the service on moto (create, list, delete,
roles, bounds, the first state of one created while already crossed)."""

from __future__ import annotations

import pytest

from tests.unit.leasing import NOW, LeaseWorld
from tollgate.core.errors import Conflict, InvalidField, NotFound
from tollgate.core.ids import RANDOM_IDS
from tollgate.events.service_alerts import (
    MAX_ALERTS,
    Alert,
    AlertKind,
    AlertService,
    AlertState,
    budget_used_percent,
    check_new,
    days_until,
    flip,
    holds,
)


def alert(kind: AlertKind, threshold: int, state: AlertState = AlertState.ARMED) -> Alert:
    return Alert("alr_x", "tn_x", kind, threshold, NOW, "ak_x", state=state)


def test_each_kind_holds_on_its_side_of_the_threshold() -> None:
    below = alert(AlertKind.BALANCE_BELOW, 100)
    assert (holds(below, 99), holds(below, 100), holds(below, None)) == (True, False, False)
    used = alert(AlertKind.PROJECT_BUDGET_USED_PERCENT, 80)
    assert (holds(used, 80), holds(used, 79)) == (True, False)
    soon = alert(AlertKind.DEPLETION_WITHIN_DAYS, 7)
    assert (holds(soon, 7), holds(soon, 8), holds(soon, None)) == (True, False, False)


def test_an_alert_fires_once_and_recovers_once() -> None:
    armed = alert(AlertKind.BALANCE_BELOW, 100)
    assert flip(armed, 50) is AlertState.FIRED and flip(armed, 150) is None
    fired = alert(AlertKind.BALANCE_BELOW, 100, AlertState.FIRED)
    assert flip(fired, 50) is None and flip(fired, 100) is AlertState.ARMED


def test_levels() -> None:
    assert (budget_used_percent(None, 5), budget_used_percent(1000, 799), budget_used_percent(0, 0)) == (None, 79, 100)
    assert (days_until(None, NOW), days_until(NOW + 86_399, NOW), days_until(NOW - 5, NOW)) == (None, 0, 0)


@pytest.mark.parametrize(
    ("kind", "threshold", "project_id", "field"),
    [
        ("balance_above", 1, None, "kind"),
        ("balance_below", -1, None, "threshold"),
        ("depletion_within_days", 0, None, "threshold"),
        ("project_budget_used_percent", 101, "pj_x", "threshold"),
        ("project_budget_used_percent", 50, None, "project_id"),
        ("balance_below", 50, "pj_x", "project_id"),
    ],
)
def test_bad_alerts_name_the_field(kind: str, threshold: int, project_id: str | None, field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        check_new(kind, threshold, project_id)
    assert refused.value.field == field


@pytest.fixture
def world(table: str) -> LeaseWorld:
    return LeaseWorld()


def service(world: LeaseWorld) -> AlertService:
    from tollgate.events.store_alerts import DynamoAlertRepository, DynamoLevels
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    return AlertService(DynamoAlertRepository(), DynamoLevels(DynamoProjectRepository()), world.clock, RANDOM_IDS)


def test_create_list_delete_and_the_first_state(world: LeaseWorld) -> None:
    from tollgate.tenancy.service_projects import ProjectService
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    owner = world.tenant(500)
    alerts = service(world)
    low = alerts.create(owner, "balance_below", 100, None)
    already = alerts.create(owner, "balance_below", 1000, None)  # 500 available: already below
    assert (low.state, already.state) == (AlertState.ARMED, AlertState.FIRED)
    project = ProjectService(DynamoProjectRepository(), world.clock, RANDOM_IDS).create(owner, "p", 1000)
    used = alerts.create(owner, "project_budget_used_percent", 80, project.id)
    assert used.state is AlertState.ARMED
    unbudgeted = ProjectService(DynamoProjectRepository(), world.clock, RANDOM_IDS).create(owner, "q", None)
    with pytest.raises(InvalidField):
        alerts.create(owner, "project_budget_used_percent", 80, unbudgeted.id)
    with pytest.raises(NotFound):
        alerts.create(owner, "project_budget_used_percent", 80, "pj_0000000000000000")
    timed = alerts.create(owner, "lot_expiring_within_days", 7, None)
    assert {a.id for a in alerts.list(owner)} == {low.id, already.id, used.id, timed.id}
    assert alerts.delete(owner, low.id).id == low.id
    with pytest.raises(NotFound):
        alerts.delete(owner, low.id)
    other = world.tenant(0)
    with pytest.raises(NotFound):
        alerts.delete(other, used.id)  # another tenant's alert does not exist for this one
    assert alerts.list(other) == []


def test_the_limit(world: LeaseWorld) -> None:
    """(Who may manage alerts is stated at the routes: test_portal_authorisation.py.)"""
    owner = world.tenant(0)
    alerts = service(world)
    for n in range(MAX_ALERTS):
        alerts.create(owner, "balance_below", n, None)
    with pytest.raises(Conflict):
        alerts.create(owner, "balance_below", 1, None)


def pool_change(tenant_id: str, sequence: int, before: int, after: int) -> dict[str, object]:
    images = {name: {"available": {"N": str(value)}} for name, value in (("OldImage", before), ("NewImage", after))}
    keys_ = {"pk": {"S": f"T#{tenant_id}"}, "sk": {"S": "TENANT"}}
    data = {"Keys": keys_, "SequenceNumber": str(sequence), "ApproximateCreationDateTime": NOW, **images}
    return {"eventName": "MODIFY", "dynamodb": data}


def test_the_evaluator_fires_and_recovers_once_whatever_the_stream_repeats(world: LeaseWorld) -> None:
    from tollgate.events.store import list_events
    from tollgate.events.store_alert_stream import AlertEvaluator
    from tollgate.events.store_alerts import DynamoAlertRepository

    owner = world.tenant(1000)
    alert = service(world).create(owner, "balance_below", 500, None)
    evaluator = AlertEvaluator(DynamoAlertRepository(), world.clock, lambda *_: None)
    tenant = owner.tenant_id
    down = [pool_change(tenant, 10 + n, 1000 - 100 * n, 900 - 100 * n) for n in range(10)]  # 1000 → 0
    first = evaluator.process(down)
    assert (first.fired, first.recovered, first.depleted, first.failed) == (1, 0, 1, [])
    again = evaluator.process(down[3:])  # a redelivery
    assert (again.fired, again.depleted) == (0, 0)
    up = evaluator.process([pool_change(tenant, 30, 0, 700)])
    assert up.recovered == 1
    late = evaluator.process(down[4:6])  # an old crossing delivered after the recovery flips nothing
    assert (late.fired, late.recovered) == (0, 0)

    def of(event_type: str) -> list[str]:
        page = list_events(tenant, since=0, type=event_type, limit=50)
        return [e.id for e in page.events]

    assert (len(of("balance.low")), len(of("balance.recovered")), len(of("balance.depleted"))) == (1, 1, 1)
    assert DynamoAlertRepository().get(tenant, alert.id).state is AlertState.ARMED
    broken = evaluator.process([{"eventName": "MODIFY", "dynamodb": {"SequenceNumber": "x", "Keys": {"pk": 1}}}])
    assert broken.failed == ["x"]


def test_the_limit_holds_when_two_creates_read_before_either_writes(
    world: LeaseWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of issue 20 (24 concurrent creates over 40 alerts ended at 53), made certain: both creates
    read how many alerts there are before either writes. The count is written with the alert, conditioned
    on what was read, so the second one reads again and is refused."""
    import threading

    import botocore.client

    from tollgate.events.store_alerts import DynamoAlertRepository

    owner = world.tenant(0)
    alerts = service(world)
    for n in range(MAX_ALERTS - 1):
        alerts.create(owner, "balance_below", n, None)
    both_read = threading.Barrier(2)
    first_read = threading.local()

    def meeting(read: object) -> object:
        def wrapped(self: object, *args: object) -> object:
            answer = read(self, *args)  # type: ignore[operator]
            if not getattr(first_read, "done", False):
                first_read.done = True
                both_read.wait(timeout=10)
            return answer

        return wrapped

    for name in ("list", "_count"):
        if hasattr(DynamoAlertRepository, name):
            monkeypatch.setattr(DynamoAlertRepository, name, meeting(getattr(DynamoAlertRepository, name)))
    # moto checks a transaction's conditions and applies it in separate steps; DynamoDB does both atomically
    one_request_at_a_time = threading.Lock()
    send = botocore.client.BaseClient._make_api_call

    def atomic(self: object, *args: object) -> object:
        with one_request_at_a_time:
            return send(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", atomic)
    outcomes: list[str] = []

    def create(threshold: int) -> None:
        try:
            alerts.create(owner, "balance_below", threshold, None)
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(1000 + n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    assert sorted(outcomes) == ["conflict", "created"]
    assert len(alerts.list(owner)) == MAX_ALERTS
