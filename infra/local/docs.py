"""Swagger UI at ``/docs`` on the local stack, from the locally installed ``swagger-ui-dist`` (npm; no CDN),
pointed at ``/v1/openapi.json`` on the same origin so that "Try it out" calls the local API.
Local only: the deployed API has no ``/docs``."""

from __future__ import annotations

from pathlib import Path

ASSETS = {  # the files of swagger-ui-dist the page loads, and their media types
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tollgate API (local)</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""
START = b"""window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  tryItOutEnabled: true,
  persistAuthorization: true,
});
"""


def is_docs(path: str) -> bool:
    return path == "/docs" or path.startswith("/docs/")


def docs_file(root: Path, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a path under ``/docs``."""
    name = path.removeprefix("/docs").strip("/")
    if name in ("", "index.html"):
        return 200, "text/html; charset=utf-8", PAGE
    if name == "start.js":
        return 200, "text/javascript; charset=utf-8", START
    if name in ASSETS:
        asset = root / "node_modules" / "swagger-ui-dist" / name
        if asset.is_file():
            return 200, ASSETS[name], asset.read_bytes()
        return 503, "text/plain; charset=utf-8", b"swagger-ui-dist is not installed: run npm ci (make setup)"
    return 404, "text/plain; charset=utf-8", b"not found"
