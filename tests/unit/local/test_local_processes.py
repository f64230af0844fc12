"""Nothing is left running when the process that started it dies, even by SIGKILL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.unit.local.helpers import ROOT, pid_running


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_running(pid):
            return True
        time.sleep(0.05)
    return False


def _run_parent(code: str) -> tuple[subprocess.Popen[str], int]:
    """A parent process that starts a child and prints the child's pid; returns (parent, child pid)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    return parent, child_pid


def test_watchdog_kills_the_child_when_its_parent_is_killed() -> None:
    parent, child = _run_parent(
        """
        import subprocess, time
        from infra.local.dynamodb_local import start_watchdog
        child = subprocess.Popen(["sleep", "60"], start_new_session=True)
        start_watchdog(child.pid)
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    assert pid_running(child)
    parent.kill()
    parent.wait()
    assert _gone_within(child, 60)


def test_workers_exit_when_the_gateway_process_is_killed(fake_template: Path) -> None:
    parent, worker = _run_parent(
        f"""
        import json, time
        from infra.local.template import load_template
        from infra.local.gateway import Gateway
        gateway = Gateway(load_template({str(fake_template)!r}), workers=1, schedules=False)
        result = gateway.invoke("TickFunction", {{}})
        assert result.ok, result
        print(result.pid, flush=True)
        time.sleep(60)
        """
    )
    assert pid_running(worker)
    parent.kill()
    parent.wait()
    assert _gone_within(worker, 60)
