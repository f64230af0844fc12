"""A fault proxy in front of DynamoDB Local: what real DynamoDB does now and then, on purpose.

``TOLLGATE_DDB_FAULTS=0.1 make run`` puts it between the functions and DynamoDB Local. That share of the
requests (chosen at random) meets one of three faults, in equal parts:

- **throttle**: answered 400 ``ThrottlingException`` without reaching DynamoDB;
- **error**: answered 500 ``InternalServerError`` without reaching DynamoDB;
- **lost answer**: forwarded, so DynamoDB does the work (a transaction commits), and then the connection is
  cut before the answer reaches the caller.

The third is the one that loses or doubles tokens in careless code: the caller cannot know whether its write
happened. Tollgate's writes carry a ClientRequestToken and conditions, so a retry is answered as the first
call was. The proxy counts what it did (``counts``), and serves those counts at ``GET /_faults`` for tests.
It listens on 127.0.0.1 only; the operator tool keeps talking to DynamoDB Local directly.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOG = logging.getLogger("tollgate.local.faults")
FAULTS = ("throttle", "error", "lost_answer")
_JSON = "application/x-amz-json-1.0"


class FaultProxy:
    def __init__(self, upstream_port: int, rate: float, port: int = 0, seed: int | None = None) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("TOLLGATE_DDB_FAULTS must be a share from 0 to 1")
        self.upstream_port = upstream_port
        self.rate = rate
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 (fault choice, not security)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="ddb-fault-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def choose(self) -> str | None:
        with self._lock:
            self.counts["requests"] += 1
            if self._random.random() >= self.rate:
                return None
            fault = self._random.choice(FAULTS)
            self.counts[fault] += 1
            return fault


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    def upstream() -> http.client.HTTPConnection:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
        return connection

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            LOG.debug(format, *args)

        def do_GET(self) -> None:
            body = json.dumps(dict(proxy.counts)).encode()
            self._answer(200, body, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = self.rfile.read(length)
            fault = proxy.choose()
            if fault == "throttle":
                self._aws_error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
                return
            if fault == "error":
                self._aws_error(500, "InternalServerError", "Internal server error (injected)")
                return
            status, headers, body = self._forward(request)
            if fault == "lost_answer":
                self.close_connection = True
                self.connection.shutdown(2)  # the work is done; the caller never hears of it
                return
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self, request: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            for attempt in range(2):
                connection = upstream()
                try:
                    connection.request("POST", self.path, body=request, headers=headers)
                    answer = connection.getresponse()
                    return answer.status, answer.getheaders(), answer.read()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    local.connection = None
                    if attempt:
                        raise
            raise AssertionError("unreachable")

        def _aws_error(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
            self._answer(status, body, _JSON)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def rate_from_env(environ: dict[str, str] | Any) -> float:
    value = environ.get("TOLLGATE_DDB_FAULTS", "").strip()
    return float(value) if value else 0.0
