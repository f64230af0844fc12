"""Usage reports over real HTTP on DynamoDB Local, kept by the usage aggregator from the table's stream:

- after a concurrent run, and after the stream was made to deliver a batch again, the totals for any range
  equal the ledger's spending entries over it; the CSV parses and sums the same; a rebuild changes nothing
- with a synthetic burn (the clock moved day by day) the forecast's depletion date is within a day of the truth
- a purchase's usage: its tokens consumed (burn order), taken back and remaining
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.conftest import Stack, http
from tests.integration.test_purchases import buy, pay

pytestmark = pytest.mark.integration
DAY = 86400
SPENDING = {"consumption", "lease_charge", "allowance_charge"}
AGGREGATOR = "UsageAggregatorFunction"


def redeliver(stack: Stack, records: int) -> None:
    answer = http("POST", stack.api + "/_local/streams/redeliver", {"function": AGGREGATOR, "records": records})
    assert answer.status == 200, answer.body


def ledger(stack: Stack, key: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        path = "/v1/ledger?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = stack.call("GET", path, key=key)
        assert page.status == 200, page.body
        entries.extend(page.body["entries"])
        cursor = page.body["next_cursor"]
        if cursor is None:
            return entries


def spent_by_day(entries: list[dict[str, Any]]) -> dict[str, int]:
    days: dict[str, int] = {}
    for entry in entries:
        if entry["kind"] in SPENDING:
            day = entry["created_at"][:10]
            days[day] = days.get(day, 0) - entry["amount"]
    return days


def usage(stack: Stack, key: str, query: str = "", **headers: str) -> Any:
    answer = stack.call("GET", "/v1/usage" + query, key=key, **headers)
    assert answer.status == 200, answer.body
    return answer.body


def license_key(stack: Stack, owner: str, **scope: Any) -> str:
    body = {"name": "ci", "regions": ["eu-west-1", "us-east-1"], **scope}
    answer = stack.call("POST", "/v1/keys", body, key=owner)
    assert answer.status == 201, answer.body
    return str(answer.body["secret"])


def consume(stack: Stack, key: str, feature: str, quantity: int) -> int:
    body = {"feature": feature, "quantity": quantity}
    idempotency_key = str(uuid.uuid4())
    for attempt in range(8):  # as the SDK does: a 5xx (a loaded machine) is sent again with the same key
        answer = stack.call("POST", "/v1/consume", body, key=key, Idempotency_Key=idempotency_key)
        if answer.status < 500:
            return answer.status
        time.sleep(min(2.0, 0.2 * 2**attempt))  # backoff between attempts, not a wait for anything
    return answer.status


def test_usage_equals_the_ledger_after_a_concurrent_run_and_a_redelivery(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Usage")
    stack.grant(tenant_id, 100_000)
    project = stack.call("POST", "/v1/projects", {"name": "ci", "budget": 50_000}, key=owner).body["project"]
    keys = [
        license_key(stack, owner),
        license_key(stack, owner, project_id=project["id"]),
        stack.api_key(owner, "member"),
    ]

    def work(n: int) -> int:
        return consume(stack, keys[n % 3], "build" if n % 2 else "deploy", 1 + n % 4)

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(work, range(120)))
    assert set(statuses) == {200}, statuses
    stack.settle()
    entries = ledger(stack, owner)
    truth = spent_by_day(entries)
    today = max(truth)
    report = usage(stack, owner, f"?from={today}&to={today}&group_by=feature,project,key")
    assert report["totals"]["tokens"] == truth[today] == sum(row["tokens"] for row in report["rows"])
    assert report["totals"]["count"] == 120
    assert {row["project_id"] for row in report["rows"]} == {None, project["id"]}
    assert len({row["key_id"] for row in report["rows"]}) == 3

    redeliver(stack, 100)  # the aggregator sees its last 100 records again
    stack.settle()
    again = usage(stack, owner, f"?from={today}&to={today}&group_by=feature,project,key")
    assert again == report

    as_csv = stack.call("GET", f"/v1/usage?from={today}&to={today}&group_by=feature,key", key=owner, Accept="text/csv")
    assert as_csv.status == 200 and as_csv.headers["Content-Type"].startswith("text/csv"), as_csv.headers
    text = as_csv.body if isinstance(as_csv.body, str) else ""
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sum(int(row["tokens"]) for row in rows) == truth[today]
    assert sum(int(row["count"]) for row in rows) == 120

    month = usage(stack, owner, f"?from={today[:8]}01&to={today}&granularity=month")
    assert month["rows"] == [
        {
            "period": today[:7],
            "feature": None,
            "project_id": None,
            "key_id": None,
            "tokens": truth[today],
            "quantity": month["totals"]["quantity"],
            "count": 120,
        }
    ]
    checked = stack.operator("--json", "usage", "check", "--tenant", tenant_id)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rebuilt = stack.operator("--json", "usage", "rebuild", "--tenant", tenant_id)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert usage(stack, owner, f"?from={today}&to={today}&group_by=feature,project,key") == report
    stack.audit(tenant_id)


def test_reports_refuse_bad_ranges_and_other_roles(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Usage roles")
    for query, field in (
        ("?from=2026-02-30", "from"),
        ("?from=2026-11-02&to=2026-11-01", "from"),
        ("?from=2020-01-01&to=2026-01-01", "to"),
    ):
        answer = stack.call("GET", "/v1/usage" + query, key=owner)
        assert (answer.status, answer.body["error"].get("field")) == (422, field), answer.body
    for query in ("?granularity=week", "?group_by=region", "?from=yesterday"):
        assert stack.call("GET", "/v1/usage" + query, key=owner).status in (400, 422)
    for role, allowed in (("billing", True), ("auditor", True), ("member", False), ("approver", False)):
        key = stack.api_key(owner, role)
        for path in ("/v1/usage", "/v1/usage/forecast"):
            assert stack.call("GET", path, key=key).status == (200 if allowed else 403), (role, path)
    other_tenant, other_owner = stack.signup("Other")
    record = buy(stack, other_owner)["purchase"]
    assert stack.call("GET", f"/v1/purchases/{record['id']}/usage", key=owner).status == 404
    stack.audit(tenant_id)
    stack.audit(other_tenant)


def test_forecast_of_a_steady_burn_is_within_a_day_of_the_truth(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Forecast")
    stack.grant(tenant_id, 3000)
    project = stack.call("POST", "/v1/projects", {"name": "p", "budget": 2000}, key=owner).body["project"]
    key = license_key(stack, owner, project_id=project["id"])
    per_day = 120  # feature "build" costs 1 token a use (infra/catalog.json)
    for _ in range(8):
        assert consume(stack, key, "build", per_day) == 200
        stack.advance(DAY)
    stack.settle()
    answer = stack.call("GET", "/v1/usage/forecast", key=owner)
    assert answer.status == 200, answer.body
    forecast = answer.body
    assert forecast["burn_rate"]["last_7_days"]["per_day"] == per_day
    assert forecast["available"] == 3000 - 8 * per_day
    balance = stack.call("GET", "/v1/balance", key=owner).body
    entries = ledger(stack, owner)
    last_spend = max(
        dt.datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")) for e in entries if e["kind"] in SPENDING
    )
    clock_now = last_spend + dt.timedelta(days=1)  # the clock moved a day after the last spend
    truth = clock_now + dt.timedelta(days=balance["available"] / per_day)
    predicted = dt.date.fromisoformat(forecast["depletion_date"])
    assert abs((predicted - truth.date()).days) <= 1, (forecast, truth)
    (budget,) = forecast["projects"]
    budget_truth = clock_now + dt.timedelta(days=(2000 - 8 * per_day) / per_day)
    assert abs((dt.date.fromisoformat(budget["depletion_date"]) - budget_truth.date()).days) <= 1, budget
    stack.audit(tenant_id)


def test_purchase_usage_shows_consumed_taken_back_and_remaining(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Procurement")
    record = buy(stack, owner, po_number="PO-77")["purchase"]
    pay(stack, record["stripe_session_id"])
    assert consume(stack, stack.api_key(owner, "member"), "build", 25) == 200
    answer = stack.call("GET", f"/v1/purchases/{record['id']}/usage", key=owner)
    assert answer.status == 200, answer.body
    view = answer.body
    tokens = record["tokens"]
    assert (view["tokens"], view["consumed"], view["expired"], view["taken_back"], view["remaining"]) == (
        tokens,
        25,
        0,
        0,
        tokens - 25,
    )
    assert view["po_number"] == "PO-77" and len(view["lot_ids"]) == 1
    stack.audit(tenant_id)
