"""The contract's CI checks (``make contract-check``; ``.ci/run`` calls it):

1. ``@redocly/cli lint`` (pinned in package.json) over the published document: no error and no warning
   (``redocly.yaml`` holds its settings).
2. ``openapi-python-client`` (pinned in the Makefile, in its own environment ``.venv-openapi``) generates a
   client from it into a temporary directory with no warning (``infra/openapi-client.yaml``).

``tests/integration/test_generated_client.py`` generates the same client (``generate``) and uses it against
the local stack; ``make test`` runs that.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "shared" / "tollgate" / "edge" / "contract" / "openapi.json"
CLIENT_CONFIG = ROOT / "infra" / "openapi-client.yaml"
OPENAPI_VENV = ROOT / ".venv-openapi"
PACKAGE = "tollgate_client"


def generator() -> Path:
    """The pinned generator: ``$OPENAPI_PYTHON_CLIENT`` if set, else ``.venv-openapi``'s."""
    return Path(os.environ.get("OPENAPI_PYTHON_CLIENT") or OPENAPI_VENV / "bin" / "openapi-python-client")


class GenerationFailed(RuntimeError):
    pass


def generate(into: Path) -> Path:
    """Generate the client package into ``into``/tollgate_client; the directory to put on ``sys.path``.
    Refuses any warning the generator prints (a part of the document it could not turn into code)."""
    command = [str(generator()), "generate", "--path", str(DOCUMENT), "--meta", "none"]
    command += ["--output-path", str(into / PACKAGE), "--config", str(CLIENT_CONFIG)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 or re.search(r"warning", output, re.IGNORECASE):
        raise GenerationFailed(f"openapi-python-client (exit {done.returncode}):\n{output}")
    return into


def lint() -> int:
    """``redocly lint``: its exit code (non-zero on an error); a warning fails it too."""
    redocly = ROOT / "node_modules" / ".bin" / "redocly"
    done = subprocess.run(
        [str(redocly), "lint", "--config", str(ROOT / "redocly.yaml"), str(DOCUMENT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true"),
    )
    print(done.stdout + done.stderr)
    if done.returncode != 0:
        return done.returncode
    if "Woohoo! Your API description is valid" not in done.stdout + done.stderr:
        print("redocly lint: warnings (see above); the contract must have none", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    if lint() != 0:
        return 1
    with tempfile.TemporaryDirectory(prefix="tollgate-client-") as scratch:
        try:
            generate(Path(scratch))
        except GenerationFailed as failed:
            print(failed, file=sys.stderr)
            return 1
    print("== openapi-python-client: generated with no warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
