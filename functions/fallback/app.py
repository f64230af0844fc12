"""The HTTP API's ``$default`` route: every request that matches no other route comes here and gets the
error envelope, 405 with ``Allow`` when the path exists with other methods, else 404 (``tollgate.edge.routes``).

No Powertools, no botocore: it reads nothing and writes nothing, so its cold start is the route table.
"""

from __future__ import annotations

from typing import Any

from tollgate.edge.errors import error_response
from tollgate.edge.routes import no_route


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:  # noqa: ARG001 - Lambda's signature
    context_ = event.get("requestContext") or {}
    http = context_.get("http") or {}
    method = str(http.get("method", ""))
    path = str(event.get("rawPath") or http.get("path", ""))
    return error_response(no_route(method, path), str(context_.get("requestId", "unknown")))
