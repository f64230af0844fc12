"""The customer portal in a real browser (Playwright driving the system's Chromium) against the local stack.

One browser for the file; each test opens its own context (its own sessionStorage, as a new tab would).
Addresses, labels, button names and data-testids are SPEC's automation contract, used here as an outside
script would use them. Each test takes a screenshot of its page; with TOLLGATE_SCREENSHOTS=1 into docs/portal/
(docs/portal.md shows them).
"""

from __future__ import annotations

import csv
import io
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.conftest import ROOT
from tests.integration.browser import chromium_or_skip
from tests.integration.conftest import Stack
from tests.integration.test_actions import Tenant, approval
from tollgate.kernel import keys

pytestmark = pytest.mark.integration

SHOTS = ROOT / "docs" / "portal"
VIEWPORT = {"width": 1200, "height": 860}
WAIT_MS = 60_000  # a loaded two-core machine: the page waits for what it asserts on, this long at most
DEPLOYS_NEED_AN_APPROVER = {
    "id": "deploys",
    "effect": "require_approval",
    "match": {"actions": ["deploy"]},
    "approval": approval({"roles": ["approver"]}, quorum=1),
}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = chromium_or_skip()
    launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
    yield launched
    launched.close()


@dataclass
class Shop:
    """A tenant with tokens, a project, a member who consumed some, and keys of every role the tests use."""

    stack: Stack
    tenant: Tenant
    member: str
    approver: str
    project_id: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # uncaught page errors and Content-Security-Policy refusals


@pytest.fixture(scope="module")
def shop(stack: Stack) -> Shop:
    tenant = Tenant(stack, tokens=5000)
    _, member = tenant.key("member")
    _, approver = tenant.key("approver")
    project = stack.call("POST", "/v1/projects", {"name": "Render farm", "budget": 800}, key=tenant.owner)
    assert project.status == 201, project.body
    agents = stack.call("POST", "/v1/keys", {"name": "Build agents", "regions": ["us-east-1"]}, key=tenant.owner)
    assert agents.status == 201, agents.body
    for quantity in (3, 4):  # usage for the charts: today's burn, by feature
        for feature in ("build", "scan"):
            spent = tenant.consume(member, {"feature": feature, "quantity": quantity})
            assert spent.status == 200, spent.body
    stack.settle()  # the usage aggregator has read the ledger
    return Shop(stack, tenant, member, approver, str(project.body["project"]["id"]))


@pytest.fixture
def context(browser: Browser, shop: Shop) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    opened.set_default_timeout(WAIT_MS)
    opened.on("request", lambda request: shop.requests.append(request.url))

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: shop.problems.append(f"{page.url}: {error}"))
        page.on(
            "console",
            lambda message: (
                shop.problems.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )

    opened.on("page", watch)
    yield opened
    opened.close()


def sign_in(context: BrowserContext, stack: Stack, key: str) -> Page:
    page = context.new_page()
    page.goto(f"{stack.api}/portal/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Overview")).to_be_visible()
    return page


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
  .map((el) => el.outerHTML)"""
NAMELESS = """() => [...document.querySelectorAll("button, a[href]")]
  .filter((el) => !(el.innerText || "").trim() && !el.getAttribute("aria-label"))
  .map((el) => el.outerHTML)"""


def shot(page: Page, name: str, **options: Any) -> None:
    """A screenshot for docs/portal.md, once the page is checked: every field labelled, every action a
    button or a link with a name (keyboard-reachable by construction)."""
    assert page.evaluate(UNLABELLED) == [], f"fields without a label on {name}"
    assert page.evaluate(NAMELESS) == [], f"buttons or links without a name on {name}"
    if os.environ.get("TOLLGATE_SCREENSHOTS"):  # `TOLLGATE_SCREENSHOTS=1 pytest …` refreshes docs/portal/
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), **options)
    else:  # taken all the same (it renders the page), kept out of the working tree
        page.screenshot(**options)


def go(page: Page, link: str) -> None:
    page.get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=link)).to_be_visible()


def test_sign_in_keeps_the_key_in_the_tab_and_shows_the_overview(context: BrowserContext, shop: Shop) -> None:
    stack, owner = shop.stack, shop.tenant.owner
    page = context.new_page()
    page.goto(f"{stack.api}/portal/")
    shot(page, "sign-in")
    page.get_by_label("API key").fill("tg_not.a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("UNAUTHENTICATED")
    page.reload()  # a fresh page, then by keyboard alone: the field comes first, Enter signs in
    expect(page.get_by_label("API key")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.type(owner)
    page.keyboard.press("Enter")
    nav = page.get_by_role("navigation")
    for name in ("Overview", "Buy tokens", "Usage", "Projects", "Keys", "Approvals", "Events"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    assert page.evaluate("Object.values(sessionStorage)") == [owner]
    assert page.evaluate("localStorage.length") == 0 and context.cookies() == []

    balance = stack.call("GET", "/v1/balance", key=owner).body
    expect(page.get_by_test_id("available")).to_have_text(f"{balance['available']:,}")
    expect(page.get_by_test_id("balance")).to_have_text(f"{balance['balance']:,}")
    expect(page.get_by_test_id("reserved")).to_have_text(f"{balance['reserved']:,}")
    expect(page.get_by_test_id("lot-row")).to_have_count(len(balance["lots"]))
    chart = page.get_by_test_id("burn-chart")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart).not_to_have_attribute("data-points", "0")
    forecast = stack.call("GET", "/v1/usage/forecast", key=owner).body
    expect(page.get_by_test_id("depletion-date")).to_have_text(forecast["depletion_date"] or "not in sight")
    shot(page, "overview")

    page.reload()  # the key kept in this tab signs in again
    expect(page.get_by_test_id("available")).to_have_text(f"{balance['available']:,}")


def test_a_purchase_clicked_through_the_hosted_checkout_comes_back_paid(context: BrowserContext, shop: Shop) -> None:
    stack, owner = shop.stack, shop.tenant.owner
    before = stack.call("GET", "/v1/balance", key=owner).body["balance"]
    page = sign_in(context, stack, owner)
    go(page, "Buy tokens")
    page.get_by_label("Pack").select_option("starter")
    page.get_by_label("Quantity").fill("2")
    page.get_by_label("PO number").fill("PO-2026-042")
    page.get_by_label("Project").select_option(shop.project_id)
    shot(page, "buy-tokens")
    page.get_by_role("button", name="Continue to checkout").click()

    page.wait_for_url(f"{stack.stripe_url}/checkout/**")  # the stand-in's hosted Checkout page
    expect(page.get_by_text("Starter").first).to_be_visible()
    shot(page, "checkout")
    page.get_by_role("button", name=re.compile("^Pay")).click()

    page.wait_for_url(re.compile(re.escape(f"{stack.api}/portal/purchases/") + r"[^/?]+\?checkout=success"))
    expect(page.get_by_test_id("purchase-status")).to_have_text("paid")  # the webhook credited it
    shot(page, "purchase")
    purchase_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    paid = stack.call("GET", f"/v1/purchases/{purchase_id}", key=owner).body["purchase"]
    assert (paid["status"], paid["tokens"], paid["po_number"], paid["project_id"]) == (
        "paid",
        2000,
        "PO-2026-042",
        shop.project_id,
    )
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == before + 2000
    assert page.evaluate("Object.values(sessionStorage)") == [owner]  # kept through the round trip
    stack.audit(shop.tenant.id)


def test_a_cancelled_checkout_comes_back_to_a_pending_purchase(context: BrowserContext, shop: Shop) -> None:
    stack = shop.stack
    page = sign_in(context, stack, shop.tenant.owner)
    go(page, "Buy tokens")
    page.get_by_role("button", name="Continue to checkout").click()
    page.wait_for_url(f"{stack.stripe_url}/checkout/**")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(re.compile(r"/portal/purchases/[^/?]+\?checkout=cancelled"))
    expect(page.get_by_test_id("purchase-status")).to_have_text("pending")


def test_usage_chart_and_csv_download(context: BrowserContext, shop: Shop) -> None:
    shop.stack.settle()  # usage is what the aggregator wrote from the stream: caught up first
    page = sign_in(context, shop.stack, shop.tenant.owner)
    go(page, "Usage")
    chart = page.get_by_test_id("usage-chart")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart).not_to_have_attribute("data-points", "0")
    expect(chart).to_contain_text("build")  # one series per feature (uPlot's legend)
    expect(chart).to_contain_text("scan")
    shot(page, "usage")
    with page.expect_download() as download:
        page.get_by_test_id("usage-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert download.value.suggested_filename.endswith(".csv")
    by_feature: dict[str, int] = {}
    for row in rows:
        by_feature[row["feature"]] = by_feature.get(row["feature"], 0) + int(row["tokens"])
    assert by_feature["build"] >= 7 and by_feature["scan"] >= 14  # build costs 1 a use, scan 2


def test_projects_show_budget_rows(context: BrowserContext, shop: Shop) -> None:
    page = sign_in(context, shop.stack, shop.tenant.owner)
    go(page, "Projects")
    row = page.get_by_test_id("budget-row").filter(has_text="Render farm")
    expect(row.locator("[data-field=limit]")).to_have_text("800")
    for name in ("used", "held", "left"):
        expect(row.locator(f"[data-field={name}]")).to_have_text(re.compile(r"^[\d,]+$"))

    page.get_by_label("Level").select_option("tenant")  # every level, from GET /v1/budgets
    page.get_by_label("Limit (tokens)").fill("100000")
    page.get_by_label("Period").select_option("month")
    page.get_by_role("button", name="Set budget").click()
    tenant_row = page.get_by_test_id("budget-row").filter(has_text="Tenant")
    expect(tenant_row.locator("[data-field=limit]")).to_have_text("100,000")
    figures = {name: tenant_row.locator(f"[data-field={name}]").inner_text() for name in ("used", "held", "left")}
    assert sum(int(value.replace(",", "")) for value in figures.values()) == 100_000
    budgets = shop.stack.call("GET", "/v1/budgets", key=shop.tenant.owner).body["budgets"]
    assert {b["scope"]: (b["limit"], b["period"]) for b in budgets}["tenant"] == (100_000, "month")
    shot(page, "projects")


def test_a_new_license_key_shows_its_secret_once(context: BrowserContext, shop: Shop) -> None:
    page = sign_in(context, shop.stack, shop.tenant.owner)
    go(page, "Keys")
    page.get_by_role("button", name="New license key").click()
    page.get_by_label("Name").fill("CI runners")
    page.get_by_label("Regions").fill("us-east-1, eu-west-1")
    page.get_by_role("button", name="Create license key").click()
    secret = page.get_by_test_id("secret")
    expect(secret).to_have_text(re.compile(r"^tgk_"))
    expect(page.get_by_test_id("license-key-row").filter(has_text="CI runners")).to_be_visible()
    shot(page, "keys", mask=[secret])
    value = secret.inner_text()
    validated = shop.stack.call("POST", "/v1/validate", {}, key=value)
    assert validated.status == 200 and validated.body["valid"] is True, validated.body
    listed = shop.stack.call("GET", "/v1/keys", key=shop.tenant.owner).body["keys"]
    assert any(k["name"] == "CI runners" and sorted(k["regions"]) == ["eu-west-1", "us-east-1"] for k in listed), listed

    go(page, "Overview")
    go(page, "Keys")
    expect(page.get_by_test_id("license-key-row").filter(has_text="CI runners")).to_be_visible()
    expect(page.get_by_test_id("secret")).to_have_count(0)  # shown once: gone once the page is left
    assert value not in page.content()

    page.get_by_role("button", name="Rotate CI runners").click()  # a new secret, once; the old one stops
    expect(page.get_by_test_id("secret")).to_have_text(re.compile(r"^tgk_"))
    rotated = page.get_by_test_id("secret").inner_text()
    assert rotated != value
    assert shop.stack.call("POST", "/v1/validate", {}, key=rotated).body["valid"] is True
    assert shop.stack.call("POST", "/v1/validate", {}, key=value).body["valid"] is False


def test_an_approver_approves_with_a_comment_and_verifies_the_chain(
    browser: Browser, context: BrowserContext, shop: Shop
) -> None:
    stack, tenant = shop.stack, shop.tenant
    tenant.policy([DEPLOYS_NEED_AN_APPROVER])
    asked = tenant.ask(shop.member, {"action": "deploy", "feature": "deploy", "quantity": 1, "reason": "v2.3"})
    assert asked.status == 202, asked.body
    action_id = asked.body["action"]["id"]

    page = sign_in(context, stack, shop.approver)
    go(page, "Approvals")
    row = page.get_by_test_id("action-row").filter(has_text="v2.3")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Approve").click()
    row.get_by_label("Comment").fill("ship it")
    shot(page, "approvals")
    row.get_by_role("button", name="Confirm").click()
    expect(row).to_have_count(0)
    action = tenant.get(tenant.owner, action_id).body["action"]
    assert action["status"] == "approved" and action["reviews"][0]["comment"] == "ship it"

    another = tenant.ask(shop.member, {"action": "deploy", "feature": "deploy", "quantity": 1, "reason": "friday"})
    assert another.status == 202, another.body
    go(page, "Overview")
    go(page, "Approvals")
    row = page.get_by_test_id("action-row").filter(has_text="friday")
    row.get_by_role("button", name="Deny").click()
    row.get_by_label("Comment").fill("not on a Friday")
    row.get_by_role("button", name="Confirm").click()
    expect(row).to_have_count(0)
    denied = tenant.get(tenant.owner, another.body["action"]["id"]).body["action"]
    assert denied["status"] == "denied" and denied["reviews"][0]["comment"] == "not on a Friday"

    page.get_by_label("Action").fill("deploy")
    page.get_by_role("button", name="Simulate").click()
    expect(page.get_by_test_id("simulate-result")).to_contain_text("require_approval by rule deploys")

    records = tenant.decisions()
    assert len(records) >= 2
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("chain-status")).to_have_text(f"verified ({len(records)} records)")

    # Tampered in the table itself (not through the API): Verify reads the log again and finds it.
    # Put back afterwards: the stack is shared, and `tollgate decisions verify` checks every tenant's chain.
    seq = records[-1]["seq"]
    record_key = {"pk": {"S": keys.decisions_pk(tenant.id)}, "sk": {"S": keys.decision_sk(seq)}}
    actor = stack.client().get_item(TableName=stack.table_name, Key=record_key, ConsistentRead=True)["Item"]["actor"]
    stack.client().update_item(
        TableName=stack.table_name,
        Key=record_key,
        UpdateExpression="SET actor = :someone",
        ExpressionAttributeValues={":someone": {"S": "api_key:someone-else"}},
    )
    try:
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_test_id("chain-status")).to_have_text(f"broken at seq {seq}")
    finally:
        stack.client().update_item(
            TableName=stack.table_name,
            Key=record_key,
            UpdateExpression="SET actor = :actor",
            ExpressionAttributeValues={":actor": actor},
        )
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("chain-status")).to_have_text(f"verified ({len(records)} records)")


def test_events_page_lists_recent_events(context: BrowserContext, shop: Shop) -> None:
    shop.stack.settle()
    page = sign_in(context, shop.stack, shop.tenant.owner)
    go(page, "Events")
    expect(page.get_by_test_id("event-row").first).to_be_visible()
    shot(page, "events")


def test_a_member_sees_no_approve_or_create_controls(context: BrowserContext, shop: Shop) -> None:
    stack, tenant = shop.stack, shop.tenant
    tenant.policy([DEPLOYS_NEED_AN_APPROVER])
    asked = tenant.ask(shop.member, {"action": "deploy", "feature": "deploy", "quantity": 1, "reason": "mine"})
    assert asked.status == 202, asked.body  # pending: an approver could act on it, the member may not
    page = sign_in(context, stack, shop.member)
    nav = page.get_by_role("navigation")
    for hidden in ("Buy tokens", "Usage", "Events"):
        expect(nav.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    go(page, "Approvals")
    expect(page.get_by_text("Nothing is waiting for your review.")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Verify")).to_have_count(0)
    go(page, "Keys")
    expect(page.get_by_test_id("license-key-row").first).to_be_visible()  # may read license keys
    expect(page.get_by_role("button", name=re.compile("^New "))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(Rotate|Revoke)"))).to_have_count(0)
    go(page, "Projects")
    expect(page.get_by_test_id("budget-row").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^(Create project|Set budget)"))).to_have_count(0)
    page.goto(f"{stack.api}/portal/buy")  # typed in by hand: the page offers nothing to buy with
    expect(page.get_by_text("Your role may not buy tokens.")).to_be_visible()
    expect(page.get_by_role("button", name="Continue to checkout")).to_have_count(0)
    # ... and the server refuses it all the same.
    body = {"pack_id": "starter", "quantity": 1}
    refused = stack.call("POST", "/v1/purchases", body, key=shop.member, Idempotency_Key=str(uuid.uuid4()))
    assert refused.status == 403, refused.body

    # The member's key revoked while the portal is open: the next answer is a 401, and the portal signs out.
    member_id = stack.call("GET", "/v1/tenant", key=shop.member).body["caller"]["key_id"]
    assert stack.call("DELETE", f"/v1/api-keys/{member_id}", key=tenant.owner).status == 200
    page.get_by_role("link", name="Projects", exact=True).click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_every_request_went_to_the_local_machine(context: BrowserContext, shop: Shop) -> None:
    """Runs last in this file: every URL any page above asked for (scripts, styles, API calls, the stand-in's
    Checkout page), and every page visited once more here, was on 127.0.0.1; the portal's own were all on
    the API's origin."""
    page = sign_in(context, shop.stack, shop.tenant.owner)
    for name in ("Buy tokens", "Usage", "Projects", "Keys", "Approvals", "Events", "Overview"):
        go(page, name)
    expect(page.get_by_test_id("burn-chart").locator("canvas")).to_be_visible()
    assert shop.problems == []  # no script error, nothing the Content-Security-Policy had to refuse
    hosts = {urlsplit(url).hostname for url in shop.requests if not url.startswith(("blob:", "data:"))}
    assert hosts == {"127.0.0.1"}, hosts
    origins = {f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in shop.requests if "/portal/" in url}
    assert origins == {shop.stack.api}
    assert any("/portal/assets/" in url for url in shop.requests) and any("/v1/" in url for url in shop.requests)
