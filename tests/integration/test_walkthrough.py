"""The README's walk-through, run as a newcomer would (issue 20, defect 10): every command of its shell block,
in bash, against the local stack, with nothing but curl and python3 on PATH (no uuidgen). And what it relies
on: a signup without a home region takes the serving region, so its license key validates here; an empty
Idempotency-Key is refused naming the header, never taken as no key; a license key on a portal route is a 401."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, Stack

pytestmark = pytest.mark.integration


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walk-through", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_readme_walkthrough_runs_command_by_command(stack: Stack, tmp_path: Path) -> None:
    script = walkthrough()
    assert "uuidgen" not in script and "home_region" not in script.split("curl", 2)[1]
    bin_dir = tmp_path / "bin"  # only what a minimal system has, plus curl and python3
    bin_dir.mkdir()
    for tool in ("curl", "python3"):
        found = shutil.which(tool, path="/usr/bin:/bin") or shutil.which(tool)  # a real binary, not a shim
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "TOLLGATE_API_PORT": stack.env["TOLLGATE_API_PORT"],
        "TOLLGATE_DDB_PORT": stack.env["TOLLGATE_DDB_PORT"],
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),  # a checkout beside others shares their venv
    }
    done = subprocess.run(
        ["/bin/bash", "-e", "-o", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert '"home_region":"us-east-1"' in done.stdout
    assert '"valid":true' in done.stdout and '"code":"VALID"' in done.stdout
    assert '"charged": 3' in done.stdout and '"charged": 1' in done.stdout
    assert '"balance":96' in done.stdout  # 100 granted, 3 by the member, 1 by the license key
    assert "error" not in done.stdout


def test_an_empty_idempotency_key_is_refused_naming_it_and_writes_nothing(stack: Stack) -> None:
    name = f"Empty {uuid.uuid4().hex[:8]}"
    answer = stack.call("POST", "/v1/tenants", {"name": name, "email": "ops@acme.example"}, Idempotency_Key="")
    assert answer.status == 422 and answer.body["error"]["field"] == "Idempotency-Key", answer.body
    tenant_id, owner = stack.signup("Empty keys")
    stack.grant(tenant_id, 10)
    member = stack.api_key(owner, "member")
    for key in ("", " "):
        spent = stack.call("POST", "/v1/consume", {"feature": "build"}, key=member, Idempotency_Key=key)
        assert spent.status == 422 and spent.body["error"]["field"] == "Idempotency-Key", spent.body
    assert stack.call("GET", "/v1/balance", key=owner).body["balance"] == 10


def test_a_license_key_on_a_portal_route_is_unauthenticated(stack: Stack) -> None:
    _, owner = stack.signup("Portal with a license key")
    made = stack.call("POST", "/v1/keys", {"name": "agent", "regions": ["us-east-1"]}, key=owner)
    assert made.status == 201, made.body
    answer = stack.call("GET", "/v1/balance", key=made.body["secret"])
    assert answer.status == 401 and answer.body["error"]["code"] == "UNAUTHENTICATED", answer.body
