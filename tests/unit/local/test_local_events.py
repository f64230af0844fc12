"""Route matching, payload 2.0 events and response mapping, without sockets."""

from __future__ import annotations

import base64
import json

import pytest

from infra.local.gateway import (
    HttpRequest,
    MalformedLambdaResponse,
    RouteMatch,
    Router,
    build_event,
    is_text,
    map_result,
)
from infra.local.template import HttpRoute

ROUTES = [
    HttpRoute("Items", "Get", "GET", "/items/{id}"),
    HttpRoute("Items", "Mine", "GET", "/items/mine"),
    HttpRoute("Items", "Rotate", "POST", "/items/{id}/rotate"),
    HttpRoute("Files", "Files", "ANY", "/files/{proxy+}"),
    HttpRoute("Files", "Readme", "GET", "/files/readme"),
    HttpRoute("Tenants", "Create", "POST", "/v1/tenants"),
]


@pytest.mark.parametrize(
    ("method", "path", "event_name", "parameters"),
    [
        ("POST", "/v1/tenants", "Create", {}),
        ("GET", "/items/42", "Get", {"id": "42"}),
        ("GET", "/items/a%20b", "Get", {"id": "a b"}),
        ("GET", "/items/mine", "Mine", {}),  # a literal beats {id}
        ("POST", "/items/7/rotate", "Rotate", {"id": "7"}),
        ("DELETE", "/files/a/b/c.txt", "Files", {"proxy": "a/b/c.txt"}),
        ("GET", "/files/readme", "Readme", {}),  # a full match beats {proxy+}
        ("PUT", "/files/readme", "Files", {"proxy": "readme"}),
    ],
)
def test_router_matches(method: str, path: str, event_name: str, parameters: dict[str, str]) -> None:
    match = Router(ROUTES).match(method, path)
    assert match is not None
    assert (match.route.event_name, match.path_parameters) == (event_name, parameters)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/tenants"),  # the path exists, not for GET
        ("POST", "/v1/tenants/"),
        ("GET", "/v1/nothing"),
        ("GET", "/items"),
        ("GET", "/items/"),
        ("GET", "/items/1/2"),
        ("GET", "/files"),  # {proxy+} needs at least one segment
        ("GET", "/files/"),
    ],
)
def test_router_has_no_match(method: str, path: str) -> None:
    assert Router(ROUTES).match(method, path) is None


def test_default_route_catches_the_rest() -> None:
    router = Router([*ROUTES, HttpRoute("Fallback", "Default", "ANY", "$default")])
    match = router.match("GET", "/anything/at/all")
    assert match is not None
    assert match.route.route_key == "$default"
    literal = router.match("POST", "/v1/tenants")
    assert literal is not None
    assert literal.route.function_id == "Tenants"


def _event(request: HttpRequest, route: HttpRoute = ROUTES[0], parameters: dict[str, str] | None = None) -> dict:
    return build_event(
        request,
        RouteMatch(route, parameters or {}),
        request_id="JKJaXmPLvHcESHA=",
        time_epoch_ms=1583348638390,
        server_port=3000,
    )


def test_event_has_the_payload_2_0_shape() -> None:
    request = HttpRequest(
        method="POST",
        raw_path="/items/a%20b/rotate",
        raw_query="x=1&x=2&empty=&q=a%20b",
        headers=[
            ("Host", "127.0.0.1:3000"),
            ("User-Agent", "tests/1.0"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-Multi", "one"),
            ("x-multi", "two"),
            ("Cookie", "a=1; b=2"),
            ("Cookie", "c=3"),
        ],
        body=b'{"k": "v"}',
        source_ip="127.0.0.9",
    )
    event = _event(request, ROUTES[2], {"id": "a b"})
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}/rotate"
    assert event["rawPath"] == "/items/a%20b/rotate"
    assert event["rawQueryString"] == "x=1&x=2&empty=&q=a%20b"
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    headers = event["headers"]
    assert headers["x-multi"] == "one,two"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert "cookie" not in headers
    assert all(name == name.lower() for name in headers)
    assert headers["x-forwarded-for"] == "127.0.0.9"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == "3000"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert event["queryStringParameters"] == {"x": "1,2", "empty": "", "q": "a b"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["body"] == '{"k": "v"}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"] == {
        "accountId": "123456789012",
        "apiId": "tollgatelo",
        "domainName": "127.0.0.1:3000",
        "domainPrefix": "127",
        "http": {
            "method": "POST",
            "path": "/items/a%20b/rotate",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.9",
            "userAgent": "tests/1.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "POST /items/{id}/rotate",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }


def test_event_leaves_out_what_the_request_does_not_have() -> None:
    event = _event(HttpRequest(method="GET", raw_path="/v1/tenant"))
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert absent not in event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "binary"),
    [
        ("application/json", False),
        ("application/json; charset=utf-8", False),
        ("text/plain", False),
        ("TEXT/CSV", False),
        ("application/xml", False),
        ("application/javascript", False),
        ("application/octet-stream", True),
        ("application/x-www-form-urlencoded", True),  # as on AWS
        ("multipart/form-data; boundary=x", True),
        ("image/png", True),
        (None, True),
    ],
)
def test_binary_bodies_are_base64(content_type: str | None, binary: bool) -> None:
    payload = b"a=1&b=\xff\x00" if binary else b"hello"
    headers = [("Content-Type", content_type)] if content_type else []
    event = _event(HttpRequest(method="POST", raw_path="/x", headers=headers, body=payload))
    assert event["isBase64Encoded"] is binary
    assert is_text(content_type) is not binary
    decoded = base64.b64decode(event["body"]) if binary else event["body"].encode()
    assert decoded == payload


def test_text_content_type_with_invalid_utf8_is_base64() -> None:
    event = _event(HttpRequest(method="POST", raw_path="/x", headers=[("content-type", "text/plain")], body=b"\xff"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff"


def test_structured_result_maps_to_status_headers_cookies_and_body() -> None:
    response = map_result(
        json.dumps(
            {
                "statusCode": 201,
                "headers": {"content-type": "application/json", "x-n": 5, "x-b": True},
                "multiValueHeaders": {"x-multi": ["a", "b"]},
                "cookies": ["a=1; Path=/", "b=2"],
                "body": '{"ok": true}',
            }
        )
    )
    assert response.status == 201
    assert response.body == b'{"ok": true}'
    assert ("content-type", "application/json") in response.headers
    assert ("x-n", "5") in response.headers
    assert ("x-b", "true") in response.headers
    assert [v for k, v in response.headers if k == "x-multi"] == ["a", "b"]
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1; Path=/", "b=2"]


def test_base64_result_body_is_decoded() -> None:
    payload = {"statusCode": 200, "body": base64.b64encode(b"\x89PNG\x00").decode(), "isBase64Encoded": True}
    assert map_result(json.dumps(payload)).body == b"\x89PNG\x00"


def test_result_without_a_body() -> None:
    response = map_result(json.dumps({"statusCode": 204}))
    assert (response.status, response.body) == (204, b"")


def test_bare_results_are_200_json_like_api_gateway() -> None:
    bare_dict = map_result(json.dumps({"message": "hi"}))
    assert bare_dict.status == 200
    assert ("content-type", "application/json") in bare_dict.headers
    assert json.loads(bare_dict.body) == {"message": "hi"}
    assert map_result(json.dumps("Hello from Lambda!")).body == b"Hello from Lambda!"
    assert map_result(json.dumps([1, 2])).body == b"[1, 2]"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "abc"},
        {"statusCode": True},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
        {"statusCode": 200, "multiValueHeaders": {"x": "not-a-list"}},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
    ],
)
def test_malformed_results_are_rejected(result: dict) -> None:
    with pytest.raises(MalformedLambdaResponse):
        map_result(json.dumps(result))
