"""The local stack for integration tests: DynamoDB Local, the local gateway reading template.yaml, and
the Stripe stand-in, started once per test session as a subprocess on free ports, and stopped by pid.

Everything here talks real HTTP: tests call the API with ``Api``, move the clock with ``stack.advance``,
run scheduled functions with ``stack.invoke`` and read the table with ``stack.items``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT

TABLE = "tollgate-local"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: each socket stays bound until all are chosen, so one call never gets
    the same port twice (parallel test workers each ask the kernel, which hands out different ones)."""
    with ExitStack() as sockets:
        ports = []
        for _ in range(count):
            sock = sockets.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> Response:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, payload, got = answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        status, payload, got = error.code, error.read(), dict(error.headers)
    try:
        parsed: Any = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode(errors="replace")
    return Response(status, parsed, got)


@dataclass
class Stack:
    api: str
    stripe_url: str
    ddb_endpoint: str
    table_name: str = TABLE
    env: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, key: str | None = None, **headers: str) -> Response:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        return http(method, self.api + path, body, sent)

    def signup(self, name: str = "Acme") -> tuple[str, str]:
        """A new tenant; returns (tenant id, owner API key)."""
        answer = self.call("POST", "/v1/tenants", {"name": name, "email": f"ops+{uuid.uuid4().hex[:8]}@acme.example"})
        assert answer.status == 201, answer.body
        return answer.body["tenant"]["id"], answer.body["api_key"]["secret"]

    def api_key(self, owner: str, role: str) -> str:
        answer = self.call("POST", "/v1/api-keys", {"name": role, "role": role}, key=owner)
        assert answer.status == 201, answer.body
        return str(answer.body["api_key"]["secret"])

    def operator(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The operator tool, ``tollgate --local …``, as an operator would run it."""
        env = dict(os.environ, **self.env)
        return subprocess.run(
            [sys.executable, "-m", "infra.cli.main", "--local", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def grant(self, tenant_id: str, tokens: int, reason: str = "test credit", *extra: str) -> None:
        done = self.operator("grant", "--tenant", tenant_id, "--tokens", str(tokens), "--reason", reason, *extra)
        assert done.returncode == 0, done.stderr

    def audit(self, tenant_id: str | None = None) -> dict[str, Any]:
        """``tollgate audit``: every pool invariant, for one tenant or all; fails the test on any mismatch."""
        done = self.operator("--json", "audit", *(["--tenant", tenant_id] if tenant_id else []))
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["mismatches"] == [], report
        return dict(report)

    def advance(self, seconds: int) -> None:
        assert http("POST", self.api + "/_local/clock", {"advance_s": seconds}).status == 200

    def invoke(self, function: str, event: Any = None) -> Response:
        return http("POST", f"{self.api}/_local/invoke/{function}", event if event is not None else {})

    def client(self) -> Any:
        return boto3.client(
            "dynamodb",
            endpoint_url=self.ddb_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def settle(self) -> None:
        """Wait until the stream consumers (usage aggregator, alert evaluator, notifier) have caught up: they
        write after the request that caused it has answered. The drain also waits for what a consumer's
        write feeds to another (an alert's event to the notifier). Call it before reading anything a
        consumer writes (events, usage, deliveries, the whole table): never wait a fixed time instead."""
        answer = http("POST", self.api + "/_local/streams/drain", {"timeout_s": 120})
        assert answer.status == 200 and answer.body == {"drained": True}, answer.body

    def items(self) -> list[dict[str, Any]]:
        """The whole table, at rest (the stream consumers caught up first)."""
        self.settle()
        found: list[dict[str, Any]] = []
        for page in self.client().get_paginator("scan").paginate(TableName=self.table_name):
            found.extend(page["Items"])
        return found


def _drain(stream: Any, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def warm_up(stack: Stack, workers: int = 8, budget_s: float = 180) -> None:
    """Bring every worker past its cold start before the tests measure anything: on two shared cores, eight
    Lambda-like workers importing the data layer at once can outlive a function's timeout, which says
    nothing about the code under test. Each round sends as many requests at once as there are workers, to
    routes of the portal and the SDK functions; done after a round with no 5xx answer."""
    tenant_id, owner = stack.signup("Warm-up")
    member = stack.api_key(owner, "member")
    stack.grant(tenant_id, 10 * workers)

    def touch(i: int) -> int:
        if i % 2:
            return stack.call("GET", "/v1/balance", key=owner).status
        body = {"feature": "build", "quantity": 1}
        return stack.call("POST", "/v1/consume", body, key=member, Idempotency_Key=uuid.uuid4().hex).status

    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        with ThreadPoolExecutor(workers) as pool:
            statuses = list(pool.map(touch, range(2 * workers)))
        if all(status < 500 for status in statuses):
            return


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with running_stack() as started:
        yield started


@contextmanager
def running_stack(warm: bool = True, **settings: str) -> Iterator[Stack]:
    """A whole local stack on free ports, as ``make run`` starts it, with ``settings`` in its environment.
    Parallel test workers each start their own; a start that fails (a port another process took between
    choosing it and binding it) is tried again on new ports."""
    for attempt in range(3):
        process, lines, env = _start_stack(settings)
        if process is not None:
            break
        if attempt == 2:
            pytest.fail("the local stack did not start:\n" + "".join(lines[-60:]))
    stack = Stack(
        api=f"http://127.0.0.1:{env['TOLLGATE_API_PORT']}",
        stripe_url=f"http://127.0.0.1:{env['TOLLGATE_STRIPE_PORT']}",
        ddb_endpoint=f"http://127.0.0.1:{env['TOLLGATE_DDB_PORT']}",
        env=env,
    )
    try:
        if warm:
            warm_up(stack)
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _start_stack(settings: dict[str, str]) -> tuple[Any, list[str], dict[str, str]]:
    """Start ``infra.local.stack`` and wait (at most 180 s) for it to say it is ready: (the process, its
    output, its ports), or (None, its output, …) when it exited or never got ready."""
    names = ("TOLLGATE_API_PORT", "TOLLGATE_DDB_PORT", "TOLLGATE_STRIPE_PORT")
    env = {name: str(port) for name, port in zip(names, free_ports(len(names)), strict=True)}
    process_env = dict(
        os.environ,
        **env,
        **settings,
        PYTHONUNBUFFERED="1",
        TOLLGATE_LOCAL_WORKERS=os.environ.get("TOLLGATE_LOCAL_WORKERS", "8"),
    )
    for name in ("TABLE_NAME", "TOLLGATE_DDB_ENDPOINT", "POWERTOOLS_SERVICE_NAME"):
        process_env.pop(name, None)  # the stack sets its own
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack", "--no-schedules"],
        cwd=ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True)
    reader.start()
    deadline = time.monotonic() + 180
    while not any("TOLLGATE READY" in line for line in lines):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return None, lines, env
        time.sleep(0.2)  # polling the output for the ready line, bounded by the deadline above
    return process, lines, env
