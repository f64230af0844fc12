"""Swagger UI at /docs on the local stack renders the API's document in headless Chromium, with no request
leaving 127.0.0.1 (Chromium's network log lists every URL it asked for)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from tests.integration.browser import chromium_or_skip
from tests.integration.conftest import Stack, http


def test_docs_page_and_assets_are_served_locally(stack: Stack) -> None:
    page = http("GET", stack.api + "/docs")
    assert page.status == 200 and "/docs/swagger-ui-bundle.js" in page.body
    assert "http" not in page.body.replace("http-equiv", "")  # no absolute (external) address on the page
    assert http("GET", stack.api + "/docs/swagger-ui-bundle.js").status == 200
    assert http("GET", stack.api + "/docs/nothing-here").status == 404


def test_swagger_ui_renders_with_no_external_request(stack: Stack, tmp_path: Path) -> None:
    chromium = chromium_or_skip()  # under CI a missing Chromium fails the test: it never skips there
    netlog = tmp_path / "netlog.json"
    done = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--log-net-log={netlog}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            stack.api + "/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    dom = done.stdout
    assert "swagger-ui" in dom, done.stderr[-2000:]
    assert "Tollgate API" in dom  # the document's title, rendered by Swagger UI from /v1/openapi.json
    assert "/v1/consume" in dom and "/v1/tenants" in dom  # its operations
    assert "Unable to render this definition" not in dom

    # What the page asked for: requests whose initiator is the page's origin. (Chromium's own background
    # traffic has none; the host resolver rules keep it from leaving the machine anyway.)
    origin = f"{urlsplit(stack.api).scheme}://{urlsplit(stack.api).netloc}"
    by_page = {
        params["url"]
        for event in json.loads(netlog.read_text() or "{}").get("events", [])
        if isinstance(params := event.get("params"), dict)
        and isinstance(params.get("url"), str)
        and params.get("initiator") == origin
    }
    assert {f"{stack.api}/v1/openapi.json", f"{stack.api}/docs/swagger-ui-bundle.js"} <= by_page
    assert {url for url in by_page if not url.startswith(origin + "/")} == set()
