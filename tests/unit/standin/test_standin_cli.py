"""``python -m infra.local.stripe_standin`` serves until SIGTERM or SIGINT, then exits cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_the_command_serves_and_stops_on_a_signal(stop_with: signal.Signals) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stripe_standin", "--port", "0", "--no-webhooks", "--quiet"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/_standin/health", timeout=5) as response:
            assert json.load(response) == {"ok": True}
        process.send_signal(stop_with)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
