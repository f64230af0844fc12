"""The local API gateway: the template's HTTP API on 127.0.0.1, the same handlers Lambda runs.

It reads routes, handlers, environment and schedules from ``template.yaml`` (through ``template.py``),
builds API Gateway HTTP API payload format 2.0 events as AWS does, runs the handlers in a pool of worker
processes (``workers.py``) and maps their results back to HTTP the way API Gateway does:

- no route for the method and path: 404 ``{"message":"Not Found"}``;
- a handler error, a timeout or a malformed result: 500 ``{"message":"Internal Server Error"}`` (details
  go to stderr only); past API Gateway's 30 s integration limit: 503 ``{"message":"Service Unavailable"}``;
- request bodies are text (``isBase64Encoded: false``) only for ``text/*``, ``application/json``,
  ``application/xml`` and ``application/javascript``; anything else, a missing content type and
  ``application/x-www-form-urlencoded`` included, arrives base64-encoded, as on AWS.

Local-only controls on the same server, never deployed:

- ``POST /_local/invoke/{FunctionLogicalId}`` with an optional JSON event runs a function now (a ScheduleV2
  function gets its schedule's ``Input``, or ``{}``); 200 with the handler's JSON result, 502 with
  ``{"errorType", "errorMessage"}`` and ``X-Amz-Function-Error: Unhandled`` when it fails;
- ``GET /_local/clock`` → ``{"now", "offset_s"}``; ``POST /_local/clock`` with ``{"advance_s": N}`` moves the
  application clock forward (the offset is passed to the handlers with every invocation);
- ``GET /_local/health`` → 200;
- the table's stream: ``DynamoDB`` event source mappings run against DynamoDB Local's stream (``streams.py``)
  when the gateway is given the stream's clients; ``POST /_local/streams/drain`` waits until each has caught
  up, ``POST /_local/streams/redeliver {"function", "records"}`` delivers a function's last records again,
  ``GET /_local/dead-letters`` lists what exhausted its retries;
- ``/_local/webhooks/{name}``: a receiver that records the webhooks sent to it (``receiver.py``);
- ``GET /docs``: Swagger UI for ``/v1/openapi.json`` (``docs.py``), from local assets;
- ``GET /portal/…``: the customer portal's built files (``portal.py``), with the single-page fallback.

The event's ``requestContext.time``/``timeEpoch`` follow the application clock, offset included.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.local.docs import docs_file, is_docs
from infra.local.portal import is_portal, portal_file
from infra.local.receiver import PREFIX as WEBHOOKS_PREFIX
from infra.local.receiver import WebhookReceiver
from infra.local.streams import StreamRunner, invoke_through
from infra.local.template import HttpRoute, LocalTemplate, Schedule
from infra.local.workers import HandlerSpec, Invocation, InvocationResult, WorkerPool

LOG = logging.getLogger("tollgate.local.gateway")

API_ID = "tollgatelo"
ACCOUNT_ID = "123456789012"
INTEGRATION_TIMEOUT_S = 30.0
MAX_BODY_BYTES = 10 * 1024 * 1024
TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ------------------------------------------------------------------------------------------ clock


class LocalClock:
    """Wall-clock time plus an offset that only moves forward; lives in the gateway process."""

    def __init__(self) -> None:
        self._offset_s = 0
        self._lock = threading.Lock()

    @property
    def offset_s(self) -> int:
        with self._lock:
            return self._offset_s

    def now(self) -> int:
        return int(time.time()) + self.offset_s

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_s * 1000

    def advance(self, seconds: int) -> int:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset_s += seconds
            return self._offset_s


# ---------------------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: dict[str, str]


def _segments(path: str) -> list[str]:
    return path.split("/")[1:]


def _is_variable(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _is_greedy(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("+}")


class Router:
    """HTTP API route selection: literal segments beat ``{param}``, which beats ``{proxy+}``; a route's own
    method beats ``ANY``; ``$default`` comes last. No match (wrong method included) is a 404."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        def priority(route: HttpRoute) -> tuple[Any, ...]:
            if route.path == "$default":
                return (2,)
            segments = _segments(route.path)
            greedy = any(_is_greedy(s) for s in segments)
            kinds = tuple(1 if _is_variable(s) else 0 for s in segments)
            return (1 if greedy else 0, kinds, route.method == "ANY")

        self._routes = sorted(routes, key=priority)

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        requested = _segments(raw_path)
        for route in self._routes:
            if route.method not in ("ANY", method.upper()):
                continue
            if route.path == "$default":
                return RouteMatch(route, {})
            parameters = _match_path(_segments(route.path), requested)
            if parameters is not None:
                return RouteMatch(route, parameters)
        return None


def _match_path(template: list[str], requested: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(template):
        if _is_greedy(segment):
            rest = requested[index:]
            if not rest or rest == [""]:
                return None
            parameters[segment[1:-2]] = unquote("/".join(rest))
            return parameters
        if index >= len(requested):
            return None
        value = requested[index]
        if _is_variable(segment):
            if not value:
                return None
            parameters[segment[1:-1]] = unquote(value)
        elif unquote(value) != segment:
            return None
    return parameters if len(template) == len(requested) else None


# ----------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None


def new_request_id() -> str:
    """Shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


def _time_text(epoch_ms: int) -> str:
    t = time.gmtime(epoch_ms // 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def build_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    request_id: str,
    time_epoch_ms: int,
    server_port: int,
    api_id: str = API_ID,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event for ``request``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(server_port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", f"Root=1-{time_epoch_ms // 1000:08x}-{secrets.token_hex(12)}")

    domain = headers.get("host", f"127.0.0.1:{server_port}")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": match.route.route_key,
        "stage": "$default",
        "time": _time_text(time_epoch_ms),
        "timeEpoch": time_epoch_ms,
    }
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    if request.body:
        text = _as_text(request.body) if is_text(headers.get("content-type")) else None
        event["body"] = text if text is not None else base64.b64encode(request.body).decode()
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def _as_text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


# -------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


class MalformedLambdaResponse(ValueError):
    """A handler result that API Gateway would answer with a 500."""


def json_response(status: int, document: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    body = json.dumps(document, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json"), *headers], body)


def api_gateway_error(status: int, message: str) -> HttpResponse:
    """API Gateway's own error answers: ``{"message":"Not Found"}`` and the like."""
    return json_response(status, {"message": message})


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedLambdaResponse(f"header value {value!r} is not a scalar")


def map_result(payload: str) -> HttpResponse:
    """The HTTP response API Gateway makes of a function's result (payload format 2.0)."""
    try:
        result = json.loads(payload)
    except ValueError as exc:
        raise MalformedLambdaResponse("the result is not JSON") from exc
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else payload
        return HttpResponse(200, [("content-type", "application/json")], body.encode())

    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedLambdaResponse(f"bad statusCode {result['statusCode']!r}")

    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    cookies = result.get("cookies") or []
    if not isinstance(single, dict) or not isinstance(multi, dict) or not isinstance(cookies, list):
        raise MalformedLambdaResponse("headers, multiValueHeaders or cookies have the wrong type")
    headers.extend((str(name), _header_text(value)) for name, value in single.items())
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedLambdaResponse(f"multiValueHeaders[{name!r}] is not a list")
        headers.extend((str(name), _header_text(value)) for value in values)
    headers.extend(("set-cookie", _header_text(cookie)) for cookie in cookies)

    text = result.get("body")
    if text is None:
        return HttpResponse(status, headers, b"")
    if not isinstance(text, str):
        raise MalformedLambdaResponse("body is not a string")
    if result.get("isBase64Encoded") is True:
        try:
            return HttpResponse(status, headers, base64.b64decode(text, validate=True))
        except ValueError as exc:
            raise MalformedLambdaResponse("body is not valid base64") from exc
    return HttpResponse(status, headers, text.encode())


def _local_error(status: int, code: str, message: str, **extra: Any) -> HttpResponse:
    error = {"code": code, "message": message, "request_id": new_request_id(), **extra}
    return json_response(status, {"error": error})


# ---------------------------------------------------------------------------------------- gateway


def workers_from_env(environ: Mapping[str, str] = os.environ) -> int:
    return int(environ.get("TOLLGATE_LOCAL_WORKERS", "8"))


def schedules_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("TOLLGATE_LOCAL_SCHEDULES", "on").strip().lower() not in ("off", "0", "false", "no")


class Gateway:
    """Serves a template's HTTP API and local controls; runs its schedules. ``start()``, then ``stop()``."""

    def __init__(
        self,
        template: LocalTemplate,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int | None = None,
        schedules: bool | None = None,
        environment: Mapping[str, str] | None = None,
        stream_clients: tuple[Any, Any] | None = None,
        table_name: str = "",
        region: str = "us-east-1",
    ) -> None:
        self.template = template
        self.clock = LocalClock()
        self.router = Router(template.routes)
        self.receiver = WebhookReceiver(self.clock.now)
        self.run_schedules = schedules_from_env() if schedules is None else schedules
        extra = dict(environment or {})
        specs = {
            fid: HandlerSpec(
                function_id=fid,
                function_name=fn.function_name,
                code_dir=str(fn.code_uri),
                handler=fn.handler,
                environment={**fn.environment, **extra},
                timeout_s=float(fn.timeout_s),
                memory_mb=fn.memory_mb,
                runtime=fn.runtime,
            )
            for fid, fn in template.functions.items()
        }
        self.pool = WorkerPool(specs, size=workers or workers_from_env(), sys_paths=self._sys_paths())
        self._server = _Server((host, port), _RequestHandler, self)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.streams: StreamRunner | None = None
        if stream_clients is not None:
            dynamodb, streams = stream_clients
            self.streams = StreamRunner(
                template.streams,
                dynamodb=dynamodb,
                streams=streams,
                table_name=table_name,
                region=region,
                invoke=invoke_through(self.invoke),
                clock_offset=lambda: self.clock.offset_s,
            )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        host = self._server.server_address[0]
        return host.decode() if isinstance(host, bytes) else str(host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _sys_paths(self) -> list[str]:
        paths = [str(p) for fn in self.template.functions.values() for p in fn.layer_paths]
        shared = self.template.root / "shared"
        if shared.is_dir():
            paths.append(str(shared))
        paths.append(str(self.template.root))
        return list(dict.fromkeys(paths))

    def start(self) -> Gateway:
        server = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="gateway", daemon=True
        )
        server.start()
        self._threads.append(server)
        if self.run_schedules:
            for schedule in self.template.schedules:
                if schedule.enabled and schedule.rate_s:
                    thread = threading.Thread(
                        target=self._run_schedule,
                        args=(schedule,),
                        name=f"schedule-{schedule.function_id}",
                        daemon=True,
                    )
                    thread.start()
                    self._threads.append(thread)
        if self.streams is not None:
            self.streams.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.streams is not None:
            self.streams.stop()
        self._server.shutdown()
        self._server.server_close()
        self.pool.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -------------------------------------------------------------------------- invoking

    def default_event(self, function_id: str) -> Any:
        """A ScheduleV2 function's schedule ``Input`` (parsed when it is JSON), else ``{}``."""
        for schedule in self.template.functions[function_id].schedules:
            return _schedule_input(schedule)
        return {}

    def invoke(self, function_id: str, event: Any, *, timeout_s: float | None = None) -> InvocationResult:
        invocation = Invocation(function_id, json.dumps(event), self.clock.offset_s)
        started = time.monotonic()
        result = self.pool.invoke(invocation, timeout_s=timeout_s)
        LOG.log(
            logging.DEBUG if result.ok else logging.WARNING,
            "REPORT %s RequestId: %s Duration: %.1f ms (round trip %.1f ms)%s%s",
            function_id,
            invocation.request_id,
            result.duration_ms,
            (time.monotonic() - started) * 1000,
            " cold" if result.cold else "",
            f" ERROR {result.error_type}: {result.error_message}" if not result.ok else "",
        )
        return result

    def _run_schedule(self, schedule: Schedule) -> None:
        assert schedule.rate_s
        while not self._stopping.wait(schedule.rate_s):
            try:
                self.invoke(schedule.function_id, _schedule_input(schedule))
            except RuntimeError:  # the pool closed under us
                return

    # -------------------------------------------------------------------------- HTTP

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.raw_path == "/_local" or request.raw_path.startswith("/_local/"):
            return self._handle_local(request)
        if is_docs(request.raw_path) and request.method.upper() in ("GET", "HEAD"):
            status, media_type, body = docs_file(self.template.root, request.raw_path)
            return HttpResponse(status, [("content-type", media_type), ("cache-control", "no-cache")], body)
        if is_portal(request.raw_path) and request.method.upper() in ("GET", "HEAD"):
            status, headers, body = portal_file(self.template.root, request.raw_path)
            return HttpResponse(status, headers, body)
        match = self.router.match(request.method, request.raw_path)
        if match is None:
            return api_gateway_error(404, "Not Found")
        request_id = new_request_id()
        event = build_event(
            request, match, request_id=request_id, time_epoch_ms=self.clock.now_ms(), server_port=self.port
        )
        function = self.template.functions[match.route.function_id]
        result = self.invoke(function.logical_id, event, timeout_s=min(function.timeout_s, INTEGRATION_TIMEOUT_S))
        response = self._to_http(result, function.timeout_s)
        return HttpResponse(response.status, [*response.headers, ("apigw-requestid", request_id)], response.body)

    @staticmethod
    def _to_http(result: InvocationResult, function_timeout_s: float) -> HttpResponse:
        if result.ok and result.payload is not None:
            try:
                return map_result(result.payload)
            except MalformedLambdaResponse as exc:
                LOG.error("malformed Lambda response (%s): %.500s", exc, result.payload)
                return api_gateway_error(500, "Internal Server Error")
        if result.error_type == "Sandbox.Timedout" and function_timeout_s > INTEGRATION_TIMEOUT_S:
            return api_gateway_error(503, "Service Unavailable")
        return api_gateway_error(500, "Internal Server Error")

    def _handle_local(self, request: HttpRequest) -> HttpResponse:
        path, method = request.raw_path.rstrip("/"), request.method.upper()
        if path == "/_local/health":
            if method != "GET":
                return _local_error(405, "METHOD_NOT_ALLOWED", "use GET")
            functions = sorted(self.template.functions)
            return json_response(
                200,
                {
                    "status": "ok",
                    "functions": functions,
                    "schedules": self.run_schedules,
                    "workers": self.pool.size,
                    "worker_pids": self.pool.pids,
                },
            )
        if path == "/_local/clock":
            if method == "GET":
                return self._clock_document()
            if method == "POST":
                return self._advance_clock(request)
            return _local_error(405, "METHOD_NOT_ALLOWED", "use GET or POST")
        if path in ("/_local/streams/drain", "/_local/streams/redeliver", "/_local/dead-letters"):
            return self._streams_control(path, request)
        if path == WEBHOOKS_PREFIX or path.startswith(WEBHOOKS_PREFIX + "/"):
            status, headers, body = self.receiver.handle(method, path, request.headers, request.body)
            return HttpResponse(status, headers, body)
        if path.startswith("/_local/invoke/"):
            if method != "POST":
                return _local_error(405, "METHOD_NOT_ALLOWED", "use POST")
            return self._invoke_local(unquote(path[len("/_local/invoke/") :]), request)
        return _local_error(404, "NOT_FOUND", f"no local control at {request.raw_path}")

    def _streams_control(self, path: str, request: HttpRequest) -> HttpResponse:
        if self.streams is None:
            return _local_error(404, "NOT_FOUND", "this gateway runs no stream mappings")
        if path == "/_local/dead-letters":
            if request.method != "GET":
                return _local_error(405, "METHOD_NOT_ALLOWED", "use GET")
            return json_response(200, {"dead_letters": self.streams.dead_letter_documents()})
        if request.method != "POST":
            return _local_error(405, "METHOD_NOT_ALLOWED", "use POST")
        try:
            fields = json.loads(request.body or b"{}")
        except ValueError:
            return _local_error(400, "MALFORMED_REQUEST", "the body is not JSON")
        if not isinstance(fields, dict):
            return _local_error(400, "MALFORMED_REQUEST", "the body is not a JSON object")
        if path == "/_local/streams/drain":
            timeout = fields.get("timeout_s", 30)
            if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not 0 < timeout <= 120:
                return _local_error(422, "INVALID_FIELD", "timeout_s must be a number in (0, 120]", field="timeout_s")
            drained = self.streams.drain(float(timeout))
            return json_response(200 if drained else 504, {"drained": drained})
        function_id, count = fields.get("function"), fields.get("records", 100)
        if function_id not in self.streams.function_ids:
            return _local_error(404, "NOT_FOUND", f"no stream mapping for function {function_id!r}")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10_000:
            return _local_error(422, "INVALID_FIELD", "records must be an integer in 0..10000", field="records")
        try:
            return json_response(200, self.streams.redeliver(function_id, count))
        except Exception as exc:  # the function failed on the redelivered batch: say so, as invoke does
            return _local_error(502, "FUNCTION_ERROR", str(exc))

    def _clock_document(self) -> HttpResponse:
        offset = self.clock.offset_s
        return json_response(200, {"now": int(time.time()) + offset, "offset_s": offset})

    def _advance_clock(self, request: HttpRequest) -> HttpResponse:
        try:
            document = json.loads(request.body or b"null")
        except ValueError:
            return _local_error(400, "MALFORMED_REQUEST", "the body is not JSON")
        seconds = document.get("advance_s") if isinstance(document, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            return _local_error(422, "INVALID_FIELD", "advance_s must be an integer >= 0", field="advance_s")
        self.clock.advance(seconds)
        return self._clock_document()

    def _invoke_local(self, function_id: str, request: HttpRequest) -> HttpResponse:
        if function_id not in self.template.functions:
            return _local_error(404, "NOT_FOUND", f"no function with logical id {function_id!r}")
        if request.body.strip():
            try:
                event = json.loads(request.body)
            except ValueError:
                return _local_error(400, "MALFORMED_REQUEST", "the event is not JSON")
        else:
            event = self.default_event(function_id)
        result = self.invoke(function_id, event)
        if result.ok and result.payload is not None:
            return HttpResponse(200, [("content-type", "application/json")], result.payload.encode())
        body = result.error_json().encode()
        return HttpResponse(502, [("content-type", "application/json"), ("x-amz-function-error", "Unhandled")], body)


def _schedule_input(schedule: Schedule) -> Any:
    if schedule.input is None:
        return {}
    if isinstance(schedule.input, str):
        try:
            return json.loads(schedule.input)
        except ValueError:
            return schedule.input
    return schedule.input


# ------------------------------------------------------------------------------------ HTTP server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], gateway: Gateway) -> None:
        self.gateway = gateway
        super().__init__(address, handler)


class _BodyTooLarge(Exception):
    pass


_HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, QUERY, …) reaches the routes too, as API Gateway hands it to ``$default``."""
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _BodyTooLarge:
            self.close_connection = True
            self._send(api_gateway_error(413, "Request Entity Too Large"))
            return
        except (ValueError, OSError):
            self.close_connection = True
            self._send(api_gateway_error(400, "Bad Request"))
            return
        url = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            raw_path=url.path or "/",
            raw_query=url.query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        try:
            response = self.server.gateway.handle(request)
        except Exception:
            LOG.exception("the gateway failed on %s %s", self.command, url.path)
            response = api_gateway_error(500, "Internal Server Error")
        self._send(response)
        LOG.info("%s %s -> %d (%.1f ms)", self.command, url.path, response.status, (time.monotonic() - started) * 1000)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug(format, *args)
