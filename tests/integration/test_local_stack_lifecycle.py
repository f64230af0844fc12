"""The local stack's own lifecycle (issue 20, defect 8): a second ``make run`` on ports already in use refuses
at once with one line and touches nothing; every way of stopping a stack (a signal to its process group, as
CI runners and terminal multiplexers send, a SIGTERM to the stack alone, a SIGKILL) leaves no process behind,
DynamoDB Local's java above all. The stacks here run one worker and no schedules, to keep the cost down."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, Stack, free_ports

pytestmark = pytest.mark.integration
PORTS = ("TOLLGATE_API_PORT", "TOLLGATE_DDB_PORT", "TOLLGATE_STRIPE_PORT")


def _environment(ports: dict[str, int]) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOLLGATE_LOCAL_WORKERS="1")
    for name in ("TABLE_NAME", "TOLLGATE_DDB_ENDPOINT", "POWERTOOLS_SERVICE_NAME", "TOLLGATE_DDB_FAULTS"):
        env.pop(name, None)
    env.update({name: str(port) for name, port in ports.items()})
    return env


def _run_refused(ports: dict[str, int]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.local.stack", "--no-schedules"],
        cwd=ROOT,
        env=_environment(ports),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("busy", PORTS)
def test_a_busy_port_is_refused_at_once_with_one_line_naming_it(busy: str) -> None:
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", ports[busy]))
    holder.listen(1)
    try:
        done = _run_refused(ports)
    finally:
        holder.close()
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0
    assert len(lines) == 1, lines
    assert str(ports[busy]) in lines[0] and busy in lines[0], lines[0]
    for name, port in ports.items():  # nothing was started: every other port is still free
        if name != busy:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))


def test_a_second_stack_on_the_ports_of_a_running_one_touches_nothing(stack: Stack) -> None:
    """The first stack's DynamoDB Local is not reseeded: a mark on one of its catalog items survives."""
    client = stack.client()
    items = client.scan(
        TableName=stack.table_name,
        FilterExpression="begins_with(sk, :p)",
        ExpressionAttributeValues={":p": {"S": "PACK#"}},
    )["Items"]
    assert items, "the running stack has no catalog"
    key = {"pk": items[0]["pk"], "sk": items[0]["sk"]}
    client.update_item(
        TableName=stack.table_name,
        Key=key,
        UpdateExpression="SET lifecycle_mark = :m",
        ExpressionAttributeValues={":m": {"S": "kept"}},
    )
    try:
        ports = {name: int(stack.env[name]) for name in PORTS}
        done = _run_refused(ports)
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        assert done.returncode != 0 and len(lines) == 1, lines
        assert "TOLLGATE_API_PORT" in lines[0]
        item = client.get_item(TableName=stack.table_name, Key=key, ConsistentRead=True)["Item"]
        assert item.get("lifecycle_mark") == {"S": "kept"}
    finally:
        client.update_item(TableName=stack.table_name, Key=key, UpdateExpression="REMOVE lifecycle_mark")


# ------------------------------------------------------------------------------------------ stopping


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def _all_gone(pids: list[int], within_s: float) -> list[int]:
    deadline = time.monotonic() + within_s
    while True:
        left = [pid for pid in pids if _alive(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.fixture
def started() -> Iterator[tuple[subprocess.Popen[str], int, list[int]]]:
    """A stack in a process group of its own: (its process, DynamoDB Local's pid, every descendant's pid)."""
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack", "--no-schedules"],
        cwd=ROOT,
        env=_environment(ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("TOLLGATE READY"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    descendants: list[int] = []
    try:
        assert ready.wait(120), "".join(lines[-40:])
        [java] = [int(m.group(1)) for line in lines if (m := re.search(r"DynamoDB Local .*\(pid (\d+)\)", line))]
        descendants = _descendants(process.pid)
        assert java in descendants
        yield process, java, descendants
    finally:
        for pid in [process.pid, *descendants]:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        process.wait(30)


@pytest.mark.parametrize(
    "how",
    ["SIGHUP to the group", "SIGTERM to the stack", "SIGTERM then SIGKILL to the group"],
)
def test_every_way_of_stopping_the_stack_leaves_nothing_behind(
    started: tuple[subprocess.Popen[str], int, list[int]], how: str
) -> None:
    process, java, descendants = started
    if how == "SIGHUP to the group":  # as a terminal multiplexer closing its window (SIGTERM: the same handler)
        os.killpg(process.pid, signal.SIGHUP)
    elif how == "SIGTERM to the stack":
        process.send_signal(signal.SIGTERM)
    else:  # a runner that does not wait for the stack to stop its children
        os.killpg(process.pid, signal.SIGTERM)
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(60)
    assert _all_gone([java], 30) == [], f"DynamoDB Local (pid {java}) is still running after {how}"
    assert _all_gone(descendants, 30) == []
