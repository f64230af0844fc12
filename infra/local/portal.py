"""The customer portal's built files (``portal/dist``, ``make build``) at ``/portal/`` on the local stack.

Deployed, CloudFront serves the same files from S3 (``template.yaml``). Here the gateway answers
``GET``/``HEAD`` under ``/portal``:

- a file that exists under ``portal/dist`` with its media type (hashed ``assets/`` cached for a year,
  everything else ``no-cache``);
- any other path that is not an asset (``/portal/purchases/{id}``, ``/portal/keys``): ``index.html``, so
  that the single-page application routes it (Stripe Checkout sends the buyer back to such an address);
- a missing asset: 404; a path that leaves ``portal/dist`` (``..``, encoded or not): 404;
- no build at all: 503 saying how to build it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

PREFIX = "/portal"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# Same-origin only: what the portal may load and where it may send requests (SPEC: nothing from outside).
SECURITY_HEADERS = (
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
)


def is_portal(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def dist_dir(root: Path) -> Path:
    return root / "portal" / "dist"


def portal_file(root: Path, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) for a ``GET`` of ``path`` under ``/portal``."""
    dist = dist_dir(root).resolve()
    index = dist / "index.html"
    if not index.is_file():
        text = b"The portal is not built: run `make build` (or `npm ci && npm run build` in portal/)."
        return 503, [("content-type", "text/plain; charset=utf-8"), ("cache-control", NO_CACHE)], text
    name = unquote(path[len(PREFIX) :]).lstrip("/")
    if "\x00" in name or "\\" in name:
        return _not_found()
    target = (dist / name).resolve() if name else index
    if target != dist and dist not in target.parents:
        return _not_found()
    if target.is_file():
        cache = IMMUTABLE if target.parent == dist / "assets" else NO_CACHE
        return 200, _headers(target.suffix, cache), target.read_bytes()
    if name.startswith("assets/") or Path(name).suffix in MEDIA_TYPES:
        return _not_found()
    return 200, _headers(".html", NO_CACHE), index.read_bytes()


def _headers(suffix: str, cache: str) -> list[tuple[str, str]]:
    media_type = MEDIA_TYPES.get(suffix, "application/octet-stream")
    return [("content-type", media_type), ("cache-control", cache), *SECURITY_HEADERS]


def _not_found() -> tuple[int, list[tuple[str, str]], bytes]:
    return 404, [("content-type", "text/plain; charset=utf-8"), ("cache-control", NO_CACHE)], b"not found"
