"""Swagger UI's "Try it out" at /docs, in a real browser (Playwright driving the system's Chromium): with the
default example bodies exactly as the page shows them, signing up, consuming and creating a license key
succeed; and no request leaves 127.0.0.1 meanwhile. Also takes the screenshot of /docs that docs/api.md
shows (``TOLLGATE_DOCS_SCREENSHOT=docs/api-docs.png`` writes it there)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.integration.conftest import Stack

CHROMIUM = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")


@pytest.fixture
def page(stack: Stack) -> Iterator[tuple[Any, list[str]]]:
    """A Swagger UI page at /docs, and the list of requests it tried to send elsewhere (refused)."""
    from playwright.sync_api import sync_playwright

    origin = "{0.scheme}://{0.netloc}".format(urlsplit(stack.api))
    elsewhere: list[str] = []

    def only_local(route: Any) -> None:
        if route.request.url.startswith(origin + "/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 760})
            context.route("**/*", only_local)
            opened = context.new_page()
            opened.goto(stack.api + "/docs")
            opened.wait_for_selector(".opblock", timeout=60_000)
            yield opened, elsewhere
        finally:
            browser.close()


def operation(page: Any, operation_id: str) -> Any:
    """The operation's block, expanded (Try it out is on: start.js sets ``tryItOutEnabled``)."""
    block = page.locator(f'[id^="operations-"][id$="-{operation_id}"]')
    block.locator(".opblock-summary").first.click()
    block.locator(".execute").wait_for()
    return block


def execute(block: Any) -> tuple[int, Any]:
    """Press Execute with what the page shows; (the answer's status, its JSON body)."""
    block.locator(".execute").click()
    answer = block.locator(".live-responses-table .response").first
    answer.wait_for(timeout=60_000)
    status = int(answer.locator(".response-col_status").inner_text().strip().split()[0])
    body = block.locator(".live-responses-table .response-col_description pre").first.inner_text()
    return status, json.loads(body)


def authorize(page: Any, secret: str) -> None:
    """The Authorize dialog, as a person fills it: the API key under `apiKey`."""
    page.locator(".auth-wrapper .authorize").click()
    scheme = page.locator(".auth-container").filter(has_text="apiKey")
    scheme.locator("input").fill(secret)
    scheme.locator("button.authorize").click()
    page.locator(".auth-btn-wrapper .btn-done").first.click()


def test_try_it_out_with_the_default_examples(stack: Stack, page: tuple[Any, list[str]], tmp_path: Path) -> None:
    docs, elsewhere = page
    screenshot = Path(os.environ.get("TOLLGATE_DOCS_SCREENSHOT") or tmp_path / "api-docs.png")
    docs.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000

    status, signed = execute(operation(docs, "signUp"))
    assert status == 201, signed
    assert signed["tenant"]["email"] == "ops@acme-robotics.example"  # the example's, not a pattern's garbage
    tenant_id, secret = signed["tenant"]["id"], signed["api_key"]["secret"]
    stack.grant(tenant_id, 1_000)
    authorize(docs, secret)

    status, charged = execute(operation(docs, "consume"))
    assert status == 200, charged
    assert charged["charged"] >= 1

    status, made = execute(operation(docs, "createLicenseKey"))
    assert status == 201, made
    assert made["key"]["name"] == "Build server 1" and made["secret"].startswith("tgk_")

    assert elsewhere == []  # every request the page made went to the local stack
    stack.audit(tenant_id)
