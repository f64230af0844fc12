"""Fuzzes the local stack from its own OpenAPI document with schemathesis: ``make fuzz`` (CI runs it).

Starts the local stack on free ports (127.0.0.1), signs a tenant up, grants it tokens with the operator
tool, makes a license key, then runs ``schemathesis run`` with every check against ``/v1/openapi.json``:
the owner's API key for the portal routes, the license key for the SDK routes (``infra/schemathesis.toml``).
Bounded by ``TOLLGATE_FUZZ_EXAMPLES`` (per operation) and ``TOLLGATE_FUZZ_MAX_TIME`` (seconds). Exits
non-zero on any 5xx or any answer that does not conform to the document; prints operations and requests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "infra" / "schemathesis.toml"
READY = "TOLLGATE READY"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def local_stack(ports: dict[str, str]) -> Iterator[str]:
    """The local stack in its own process group; yields the API's base address; stops it by pid."""
    env = dict(os.environ, **ports, PYTHONUNBUFFERED="1", TOLLGATE_LOCAL_WORKERS="4")
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack", "--no-schedules"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True).start()
    deadline = time.monotonic() + 180
    try:
        while not any(READY in line for line in lines):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the local stack did not start:\n" + "".join(lines[-40:]))
            time.sleep(0.2)
        yield f"http://127.0.0.1:{ports['TOLLGATE_API_PORT']}"
        server_errors = [line for line in lines if re.search(r" -> 5\d\d |Traceback|ERROR", line)]
        if server_errors:
            print(f"== the stack logged {len(server_errors)} errors; its last lines:", file=sys.stderr)
            print("".join(lines[-80:]), file=sys.stderr)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def call(method: str, url: str, body: Any, key: str | None = None, **headers: str) -> Any:
    sent = {"Content-Type": "application/json", **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method, headers=sent)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def tenant(api: str, ports: dict[str, str]) -> tuple[str, str]:
    """A signed-up tenant with tokens: (owner API key, license key)."""
    signed = call(
        "POST",
        f"{api}/v1/tenants",
        {"name": "Fuzz Ltd", "email": "fuzz@tollgate.example"},
        **{"Idempotency-Key": str(uuid.uuid4())},
    )
    owner, tenant_id = signed["api_key"]["secret"], signed["tenant"]["id"]
    grant = [sys.executable, "-m", "infra.cli.main", "--local", "grant", "--tenant", tenant_id]
    grant += ["--tokens", "1000000000", "--reason", "fuzzing"]
    subprocess.run(grant, cwd=ROOT, env=dict(os.environ, **ports), check=True, capture_output=True, timeout=60)
    made = call("POST", f"{api}/v1/keys", {"name": "fuzz", "regions": ["*"]}, key=owner)
    return owner, str(made["secret"])


def main() -> int:
    ports = {name: str(free_port()) for name in ("TOLLGATE_API_PORT", "TOLLGATE_DDB_PORT", "TOLLGATE_STRIPE_PORT")}
    examples = os.environ.get("TOLLGATE_FUZZ_EXAMPLES", "25")
    max_time = os.environ.get("TOLLGATE_FUZZ_MAX_TIME", "240")
    with local_stack(ports) as api:
        owner, license_key = tenant(api, ports)
        env = dict(os.environ, TOLLGATE_FUZZ_API_KEY=owner, TOLLGATE_FUZZ_LICENSE_KEY=license_key)
        command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "run"]
        command += [f"{api}/v1/openapi.json", "--checks", "all", "--max-examples", examples]
        command += ["--max-time", max_time, "--workers", "1", "--seed", os.environ.get("TOLLGATE_FUZZ_SEED", "1")]
        command += ["--request-timeout", "30", "--no-color"]
        print("==", " ".join(command[1:]), flush=True)
        started = time.monotonic()
        run = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output: list[str] = []
        for line in run.stdout or []:
            print(line, end="", flush=True)
            output.append(line)
        code = run.wait()
        summary = summarise("".join(output))
        print(f"== fuzz summary: {summary} in {time.monotonic() - started:.0f} s, exit {code}", flush=True)
        return code


def summarise(output: str) -> str:
    """Operations and requests, from schemathesis's own summary lines."""
    operations = re.search(r"API Operations:.*?Tested:\s*(\d+)", output, re.S)
    cases = re.search(r"Test cases:\s*(.*)", output)
    tested = operations.group(1) if operations else "?"
    return f"operations tested {tested}; test cases {cases.group(1).strip() if cases else '?'}"


if __name__ == "__main__":
    raise SystemExit(main())
