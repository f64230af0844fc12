"""The gateway serves the portal's built files at /portal/: media types, the single-page fallback for the
application's own addresses, 404 for missing assets and for paths that leave portal/dist, 503 unbuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.local.gateway import Gateway, HttpRequest
from infra.local.portal import is_portal, portal_file


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dist = tmp_path / "portal" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>portal</title>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    (dist / "assets" / "index-abc.css").write_text("body{}")
    (tmp_path / "portal" / "secret.txt").write_text("outside")  # one level above dist
    (tmp_path / "secret.txt").write_text("outside")
    return tmp_path


def header(headers: list[tuple[str, str]], name: str) -> str:
    return next(value for key, value in headers if key == name)


def test_files_are_served_with_their_media_types(root: Path) -> None:
    status, headers, body = portal_file(root, "/portal/assets/index-abc.js")
    assert (status, body) == (200, b"console.log(1)")
    assert header(headers, "content-type") == "text/javascript; charset=utf-8"
    assert "immutable" in header(headers, "cache-control")
    assert header(portal_file(root, "/portal/assets/index-abc.css")[1], "content-type").startswith("text/css")
    status, headers, body = portal_file(root, "/portal/")
    assert status == 200 and body.startswith(b"<!doctype html>")
    assert header(headers, "content-type") == "text/html; charset=utf-8"
    assert header(headers, "cache-control") == "no-cache"
    assert "default-src 'self'" in header(headers, "content-security-policy")


@pytest.mark.parametrize("path", ["/portal", "/portal/purchases/pur_123", "/portal/keys", "/portal/approvals/"])
def test_the_applications_own_addresses_get_index_html(root: Path, path: str) -> None:
    status, headers, body = portal_file(root, path)
    assert status == 200 and b"<title>portal</title>" in body
    assert header(headers, "content-type") == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/portal/assets/missing.js",
        "/portal/missing.css",
        "/portal/../secret.txt",
        "/portal/%2e%2e/secret.txt",
        "/portal/assets/%2e%2e/%2e%2e/secret.txt",
        "/portal/assets/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/portal/..%2fsecret.txt",
        "/portal/..%5csecret.txt",
        "/portal/%00.js",
    ],
)
def test_missing_assets_and_escapes_are_404(root: Path, path: str) -> None:
    status, _, body = portal_file(root, path)
    assert status == 404 and b"outside" not in body


def test_an_unbuilt_portal_says_how_to_build_it(tmp_path: Path) -> None:
    status, _, body = portal_file(tmp_path, "/portal/")
    assert status == 503 and b"make build" in body


def test_only_the_portal_prefix_is_the_portals() -> None:
    assert is_portal("/portal") and is_portal("/portal/x")
    assert not is_portal("/portals") and not is_portal("/v1/portal")


def test_the_gateway_answers_portal_paths_before_routes(root: Path) -> None:
    gateway = Gateway.__new__(Gateway)  # handle() needs only the template's root for these paths
    gateway.template = type("T", (), {"root": root})()  # type: ignore[assignment]
    answer = gateway.handle(HttpRequest(method="GET", raw_path="/portal/purchases/pur_1"))
    assert answer.status == 200 and b"portal" in answer.body
    assert gateway.handle(HttpRequest(method="GET", raw_path="/portal/../secret.txt")).status == 404
