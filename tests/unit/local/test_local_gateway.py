"""The gateway end to end on a free port, over a fake app written into a temporary directory."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from infra.local.gateway import Gateway
from infra.local.template import load_template
from tests.unit.local.helpers import call


def _json(gateway: Gateway, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    status, _, raw = call(gateway.url, method, path, body, **kw)
    return status, json.loads(raw) if raw else None


def test_route_invokes_the_handler_with_a_payload_2_0_event(gateway: Gateway) -> None:
    status, headers, raw = call(gateway.url, "GET", "/echo/a%20b?x=1&x=2", headers={"Cookie": "c=1; d=2"})
    assert status == 200
    assert headers["x-echo"] == "yes"
    assert headers.get_all("set-cookie") == ["a=1; Path=/", "b=2"]
    assert headers["apigw-requestid"]
    body = json.loads(raw)
    event = body["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /echo/{id}"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["cookies"] == ["c=1", "d=2"]
    assert event["requestContext"]["requestId"] == headers["apigw-requestid"]
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"


def test_handler_sees_its_environment_and_a_lambda_context(gateway: Gateway) -> None:
    _, body = _json(gateway, "GET", "/echo/1")
    assert body["env"] == {
        "TABLE_NAME": "local-table",  # !Ref TollgateTable
        "STAGE": "dev",
        "TABLE_ARN": "",  # !GetAtt: unresolvable locally
        "PINNED": "from-local",  # the local override beats the template
        "SERVICE": "echo",  # the function's own, merged with the Globals
        "AWS_LAMBDA_FUNCTION_NAME": "fake-dev-echo",
    }
    context = body["context"]
    assert context["function_name"] == "fake-dev-echo"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"].endswith(":function:fake-dev-echo")
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/fake-dev-echo"
    assert context["log_stream_name"]
    assert context["aws_request_id"]
    assert 0 < context["remaining_ms"] <= 5000


def test_binary_body_arrives_base64(gateway: Gateway) -> None:
    payload = b"\x00\x01\xfe\xff"
    _, body = _json(gateway, "POST", "/echo", payload, headers={"Content-Type": "application/octet-stream"})
    assert body["event"]["isBase64Encoded"] is True
    assert base64.b64decode(body["event"]["body"]) == payload
    _, body = _json(gateway, "POST", "/echo", {"a": 1}, headers={"Content-Type": "application/json"})
    assert (body["event"]["isBase64Encoded"], json.loads(body["event"]["body"])) == (False, {"a": 1})


def test_greedy_path_and_any_method(gateway: Gateway) -> None:
    _, body = _json(gateway, "DELETE", "/files/a/b.txt")
    assert body["event"]["routeKey"] == "ANY /files/{proxy+}"
    assert body["event"]["pathParameters"] == {"proxy": "a/b.txt"}


def test_unknown_route_and_wrong_method_are_api_gateway_404s(gateway: Gateway) -> None:
    for method, path in (("GET", "/nope"), ("DELETE", "/echo/1"), ("GET", "/echo")):
        status, headers, raw = call(gateway.url, method, path)
        assert (status, json.loads(raw)) == (404, {"message": "Not Found"})
        assert headers["content-type"] == "application/json"


def test_handler_exception_is_a_500_without_details(gateway: Gateway) -> None:
    status, _, raw = call(gateway.url, "GET", "/boom")
    assert (status, json.loads(raw)) == (500, {"message": "Internal Server Error"})
    assert b"secret" not in raw
    assert b"Traceback" not in raw


def test_bare_result_is_mapped_like_api_gateway(gateway: Gateway) -> None:
    status, headers, raw = call(gateway.url, "GET", "/bare")
    assert (status, headers["content-type"], json.loads(raw)) == (200, "application/json", {"bare": True, "n": 1})


def test_a_function_past_its_timeout_is_a_500_and_the_pool_recovers(gateway: Gateway) -> None:
    started = time.monotonic()
    status, _, raw = call(gateway.url, "GET", "/sleepy")
    assert (status, json.loads(raw)) == (500, {"message": "Internal Server Error"})
    assert time.monotonic() - started < 30  # Timeout: 1 (the handler sleeps 60 s), plus a cold start's init
    assert call(gateway.url, "GET", "/echo/after")[0] == 200


def test_slow_invocations_run_in_parallel_processes(gateway: Gateway, tmp_path: Path) -> None:
    """Each invocation waits until both have started: only two processes at once can both see the other."""
    results: list[dict[str, Any]] = []

    def slow() -> None:
        results.append(_json(gateway, "GET", f"/slow?peers=2&dir={tmp_path}")[1])

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first, second = results
    assert first["pid"] != second["pid"]
    assert max(first["started"], second["started"]) < min(first["ended"], second["ended"])  # they overlapped


def test_clock_advances_and_the_handler_sees_the_offset(gateway: Gateway) -> None:
    status, before = _json(gateway, "GET", "/_local/clock")
    assert status == 200
    assert abs(before["now"] - (time.time() + before["offset_s"])) < 30  # the same clock, give or take a stall
    status, after = _json(gateway, "POST", "/_local/clock", {"advance_s": 3600})
    assert status == 200
    assert after["offset_s"] == before["offset_s"] + 3600
    assert after["now"] >= before["now"] + 3600
    _, body = _json(gateway, "GET", "/echo/clock")
    assert body["offset_s"] == after["offset_s"]
    assert abs(body["now"] - (time.time() + after["offset_s"])) < 30
    assert body["event"]["requestContext"]["timeEpoch"] >= (before["now"] + 3600) * 1000


@pytest.mark.parametrize("advance", [-1, 1.5, True, "10", None])
def test_clock_rejects_bad_advances(gateway: Gateway, advance: Any) -> None:
    offset = gateway.clock.offset_s
    status, body = _json(gateway, "POST", "/_local/clock", {"advance_s": advance})
    assert status == 422
    assert body["error"]["code"] == "INVALID_FIELD"
    assert body["error"]["field"] == "advance_s"
    assert gateway.clock.offset_s == offset
    assert _json(gateway, "POST", "/_local/clock", b"{not json")[0] == 400


def test_local_invoke_of_a_schedule_function(gateway: Gateway) -> None:
    status, body = _json(gateway, "POST", "/_local/invoke/TickFunction")
    assert status == 200
    assert body["got"] == {"job": "tick"}  # the schedule's Input
    assert body["offset_s"] == gateway.clock.offset_s
    _, explicit = _json(gateway, "POST", "/_local/invoke/TickFunction", {"custom": 1})
    assert explicit["got"] == {"custom": 1}
    _, echo = _json(gateway, "GET", "/echo/modules")
    assert echo["module"] != body["module"]  # both app.py, imported under their own names


def test_local_invoke_errors(gateway: Gateway) -> None:
    status, body = _json(gateway, "POST", "/_local/invoke/NoSuchFunction")
    assert status == 404
    assert body["error"]["code"] == "NOT_FOUND"
    assert _json(gateway, "GET", "/_local/invoke/TickFunction")[0] == 405
    assert _json(gateway, "POST", "/_local/invoke/TickFunction", b"{bad")[0] == 400
    status, headers, raw = call(gateway.url, "POST", "/_local/invoke/EchoFunction", {"routeKey": "GET /boom"})
    assert status == 502
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(raw)["errorType"] == "RuntimeError"


def test_health(gateway: Gateway) -> None:
    status, body = _json(gateway, "GET", "/_local/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["functions"] == ["EchoFunction", "SleepyFunction", "TickFunction"]
    assert body["schedules"] is False


def test_schedules_run_on_their_rate_unless_turned_off(fake_template: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    template = load_template(fake_template)
    tick = template.functions["TickFunction"]
    fast = dataclasses.replace(tick, schedules=(dataclasses.replace(tick.schedules[0], rate_s=1),))
    template = dataclasses.replace(template, functions={**template.functions, "TickFunction": fast})

    monkeypatch.setenv("TOLLGATE_LOCAL_SCHEDULES", "off")
    with Gateway(template, workers=1) as off:
        assert off.run_schedules is False
        assert not [t for t in threading.enumerate() if t.name.startswith("schedule-")]

    calls: list[tuple[str, Any]] = []
    fired = threading.Event()

    def record(function_id: str, event: Any, **_: Any) -> None:
        calls.append((function_id, event))
        fired.set()

    with Gateway(template, workers=1, schedules=True) as on:
        monkeypatch.setattr(on, "invoke", record)
        started = time.monotonic()
        assert fired.wait(60)
        assert time.monotonic() - started > 0.8  # after one period, not at once
    assert calls[0] == ("TickFunction", {"job": "tick"})
