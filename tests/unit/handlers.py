"""Calling a function's handler in-process with an API Gateway HTTP API (payload 2.0) event."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

from tests.conftest import ROOT


class Context:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"


def load_function(name: str) -> ModuleType:
    """``functions/<name>/app.py`` as module ``fn_<name>`` (every function's module is called ``app``)."""
    module_name = f"fn_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def event(
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    sent = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    text = raw if raw is not None else (None if body is None else json.dumps(body))
    built: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": sent,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if query:
        built["queryStringParameters"] = query
    if text is not None:
        built["body"] = text
    return built


def call(
    module: ModuleType, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, Any, dict[str, str]]:
    """(status, parsed body, headers) of one request through the function's real handler."""
    answer = module.handler(event(method, path, body, **kwargs), Context())
    text = answer.get("body") or "null"
    return int(answer["statusCode"]), json.loads(text), dict(answer.get("headers") or {})
