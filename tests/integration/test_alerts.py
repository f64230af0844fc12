"""Alerts over real HTTP on DynamoDB Local, evaluated from the table's stream: a balance alert crossed by
concurrent debits fires exactly once, and recovers exactly once after a credit, however often the stream
delivers the changes; ``available`` reaching zero raises ``balance.depleted`` once; a project's budget alert
and a lot-expiry alert (the schedule) fire once too."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Stack, http
from tests.integration.event_payloads import listed
from tests.integration.test_usage_reports import consume, license_key

pytestmark = pytest.mark.integration
EVALUATOR = "AlertsFunction"


def events(stack: Stack, key: str, event_type: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer = stack.call("GET", f"/v1/events?type={event_type}" + (f"&cursor={cursor}" if cursor else ""), key=key)
        assert answer.status == 200, answer.body
        found.extend(listed(answer.body["events"]))
        cursor = answer.body.get("next_cursor")
        if not cursor:
            return found


def redeliver(stack: Stack, records: int) -> None:
    answer = http("POST", stack.api + "/_local/streams/redeliver", {"function": EVALUATOR, "records": records})
    assert answer.status == 200, answer.body


def create_alert(stack: Stack, key: str, **body: Any) -> dict[str, Any]:
    answer = stack.call("POST", "/v1/alerts", body, key=key)
    assert answer.status == 201, answer.body
    return dict(answer.body["alert"])


def test_a_balance_alert_fires_once_under_concurrent_debits_and_recovers_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Alerts")
    stack.grant(tenant_id, 1000)
    billing = stack.api_key(owner, "billing")
    alert = create_alert(stack, billing, kind="balance_below", threshold=500)
    assert alert["state"] == "armed"
    key = license_key(stack, owner)

    with ThreadPoolExecutor(8) as pool:  # 70 debits of 10 tokens: available crosses 500 once, ends at 300
        statuses = list(pool.map(lambda _: consume(stack, key, "scan", 5), range(70)))
    assert set(statuses) == {200}, statuses
    stack.settle()
    redeliver(stack, 100)
    stack.settle()
    low = [e for e in events(stack, owner, "balance.low") if e["data"]["alert_id"] == alert["id"]]
    assert len(low) == 1, low
    listed = stack.call("GET", "/v1/alerts", key=billing).body["alerts"]
    assert [a["state"] for a in listed if a["id"] == alert["id"]] == ["fired"]

    stack.grant(tenant_id, 400)  # available 700: recovered
    stack.settle()
    redeliver(stack, 100)
    stack.settle()
    recovered = [e for e in events(stack, owner, "balance.recovered") if e["data"]["alert_id"] == alert["id"]]
    assert len(recovered) == 1, recovered
    assert len([e for e in events(stack, owner, "balance.low") if e["data"]["alert_id"] == alert["id"]]) == 1

    with ThreadPoolExecutor(8) as pool:  # spend it all: available reaches 0 once
        statuses = list(pool.map(lambda _: consume(stack, key, "scan", 5), range(80)))
    assert set(statuses) <= {200, 402} and statuses.count(200) == 70, statuses  # 700 available, 10 a debit
    assert stack.call("GET", "/v1/balance", key=owner).body["available"] == 0
    stack.settle()
    redeliver(stack, 100)
    stack.settle()
    assert len(events(stack, owner, "balance.depleted")) == 1
    fired_again = [e for e in events(stack, owner, "balance.low") if e["data"]["alert_id"] == alert["id"]]
    assert len(fired_again) == 2  # crossed a second time after recovering: fires again, once
    assert stack.call("DELETE", f"/v1/alerts/{alert['id']}", key=billing).status == 200
    assert stack.call("DELETE", f"/v1/alerts/{alert['id']}", key=billing).status == 404
    stack.audit(tenant_id)


def test_project_budget_and_lot_expiry_alerts(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Budget alerts")
    stack.grant(tenant_id, 1000, "expiring credit", "--valid-days", "3")
    project = stack.call("POST", "/v1/projects", {"name": "p", "budget": 100}, key=owner).body["project"]
    used = create_alert(stack, owner, kind="project_budget_used_percent", threshold=80, project_id=project["id"])
    expiring = create_alert(stack, owner, kind="lot_expiring_within_days", threshold=7)
    key = license_key(stack, owner, project_id=project["id"])
    for _ in range(9):
        assert consume(stack, key, "build", 10) == 200
    stack.settle()
    fired = [e for e in events(stack, owner, "balance.low") if e["data"]["alert_id"] == used["id"]]
    assert len(fired) == 1 and fired[0]["data"]["project_id"] == project["id"], fired
    for _ in range(2):  # the schedule, twice: the lot ends within 7 days, fired once
        assert stack.invoke(EVALUATOR, {"source": "aws.scheduler"}).status == 200
    soon = [e for e in events(stack, owner, "lot.expiring") if e["data"]["alert_id"] == expiring["id"]]
    assert len(soon) == 1, soon
    bad = stack.call("POST", "/v1/alerts", {"kind": "balance_below", "threshold": -1}, key=owner)
    assert bad.status == 422
    member = stack.api_key(owner, "member")
    assert stack.call("GET", "/v1/alerts", key=member).status == 403
    stack.audit(tenant_id)


def test_a_depletion_alert_fires_once_when_the_forecast_comes_within_its_days_and_recovers_once(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Depletion alert")
    stack.grant(tenant_id, 1000)
    soon = create_alert(stack, owner, kind="depletion_within_days", threshold=5)
    assert soon["state"] == "armed"
    key = license_key(stack, owner)

    def burn(days: int) -> None:
        for _ in range(days):
            assert consume(stack, key, "build", 100) == 200
            stack.advance(86_400)
        stack.settle()
        for _ in range(2):  # the schedule, twice: a crossing raises one event
            assert stack.invoke(EVALUATOR, {"source": "aws.scheduler"}).status == 200

    def told(event_type: str) -> list[dict[str, Any]]:
        return [e for e in events(stack, owner, event_type) if e["data"].get("alert_id") == soon["id"]]

    burn(3)  # 700 left at 100 a day or less: a week or more away
    assert told("forecast.depletion_soon") == []
    burn(3)  # 400 left: four days at 100 a day
    fired = told("forecast.depletion_soon")
    assert len(fired) == 1, fired
    stack.grant(tenant_id, 20_000, "top-up")
    stack.settle()
    for _ in range(2):
        assert stack.invoke(EVALUATOR, {"source": "aws.scheduler"}).status == 200
    assert len(told("balance.recovered")) == 1
    assert len(told("forecast.depletion_soon")) == 1
    stack.audit(tenant_id)
