"""Lambda-like execution environments for the local gateway: a pool of worker processes.

Handler modules are not thread-safe (Powertools' resolver keeps the current event on a module-level object),
so every invocation runs in a worker *process* that handles one invocation at a time, like a Lambda
execution environment, and keeps the modules it imported warm between invocations.

- Workers are plain ``python -c`` processes (no ``multiprocessing`` re-import of the parent's ``__main__``)
  that talk to the gateway over a socket pair; they start on demand, up to the pool's size (a cold start is
  a new worker, or a worker's first invocation of a function). POSIX only (``pass_fds``).
- Each function's handler file (``functions/<name>/app.py``, all named alike) is imported by file path under
  a unique module name. The function's code directory is *not* put on ``sys.path`` (that would let the
  functions' sibling modules clash in a shared worker): a handler imports its code from the layer
  (``shared/``, so ``import tollgate`` works) or the repository root, which are on ``sys.path``.
- Before an invocation the worker switches ``os.environ`` to the function's environment (the one Lambda
  would set, plus the template's and the local overrides) and sets the application clock's offset
  (``tollgate.core.clock.SYSTEM_CLOCK``) to the gateway's, which is passed with every invocation.
- Results cross back as the JSON text Lambda would send (``Decimal`` becomes a number, as in Lambda's Python
  runtime); handler errors come back as ``errorType``/``errorMessage`` and their traceback goes to stderr.
- An invocation that outlives its function's timeout kills its worker, as Lambda does. Workers write their
  stdout to stderr (the stack keeps its stdout for its ready line) and exit when the gateway process dies.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
INIT_TIMEOUT_S = 10.0  # Lambda's limit on a cold start's init phase, on top of the function's timeout
SPAWN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HandlerSpec:
    """What a worker needs to run one function."""

    function_id: str
    function_name: str
    code_dir: str
    handler: str
    environment: Mapping[str, str]
    timeout_s: float
    memory_mb: int
    runtime: str = "python3.12"

    @property
    def module_name(self) -> str:
        return f"tollgate_local_fn_{self.function_id}"


@dataclass(frozen=True)
class Invocation:
    function_id: str
    event_json: str
    clock_offset_s: int
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    payload: str | None = None  # the handler's result as JSON text; None when the invocation failed
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float = 0.0
    cold: bool = False
    pid: int = 0

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def error_json(self) -> str:
        return json.dumps({"errorType": self.error_type, "errorMessage": self.error_message})


# ------------------------------------------------------------------------------ inside a worker


class LambdaContext:
    """The context object of Lambda's Python runtime (``memory_limit_in_mb`` is a string there too)."""

    def __init__(self, spec: HandlerSpec, request_id: str, deadline: float, log_stream_name: str) -> None:
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.aws_request_id = request_id
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{spec.function_name}"
        self.memory_limit_in_mb = str(spec.memory_mb)
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class WorkerRuntime:
    """Runs invocations inside one worker process; importable and testable in-process too."""

    def __init__(self, functions: Mapping[str, HandlerSpec]) -> None:
        self._functions = functions
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._base_env = dict(os.environ)
        self._current: str | None = None
        self._clock_warned = False
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y/%m/%d")
        self._log_stream = f"{stamp}/[$LATEST]{uuid.uuid4().hex}"

    def invoke(self, invocation: Invocation, on_start: Callable[[], None] | None = None) -> InvocationResult:
        """Run one invocation; ``on_start`` is called once the init phase is over, right before the handler."""
        started = time.monotonic()
        spec = self._functions.get(invocation.function_id)
        if spec is None:
            return self._failed(invocation, "ResourceNotFoundException", "no such function", started)
        self._switch_environment(spec)
        self._set_clock(invocation.clock_offset_s)
        cold = spec.function_id not in self._handlers
        try:
            handler = self._handler(spec)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            return self._failed(invocation, "Runtime.ImportModuleError", f"{spec.handler}: {exc}", started)
        if on_start is not None:
            on_start()
        begun = time.monotonic()
        context = LambdaContext(spec, invocation.request_id, begun + spec.timeout_s, self._log_stream)
        try:
            result = handler(json.loads(invocation.event_json), context)
        except Exception as exc:
            print(f"[ERROR] {spec.function_id} {invocation.request_id}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            return self._failed(invocation, type(exc).__name__, str(exc), started, cold=cold)
        try:
            payload = json.dumps(result, default=_json_default)
        except (TypeError, ValueError) as exc:
            return self._failed(invocation, "Runtime.MarshalError", str(exc), started, cold=cold)
        return InvocationResult(
            request_id=invocation.request_id,
            payload=payload,
            duration_ms=(time.monotonic() - begun) * 1000,
            cold=cold,
            pid=os.getpid(),
        )

    def _failed(
        self, invocation: Invocation, kind: str, message: str, started: float, *, cold: bool = False
    ) -> InvocationResult:
        return InvocationResult(
            request_id=invocation.request_id,
            error_type=kind,
            error_message=message,
            duration_ms=(time.monotonic() - started) * 1000,
            cold=cold,
            pid=os.getpid(),
        )

    def _switch_environment(self, spec: HandlerSpec) -> None:
        """Like Lambda: the environment is the function's; it persists between warm invocations."""
        if self._current == spec.function_id:
            return
        os.environ.clear()
        os.environ.update(self._base_env)
        os.environ.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self._log_stream,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                "LAMBDA_TASK_ROOT": spec.code_dir,
                "_HANDLER": spec.handler,
                "AWS_SAM_LOCAL": "true",  # what `sam local` sets; Powertools' Tracer stays off
            }
        )
        os.environ.update(spec.environment)
        self._current = spec.function_id

    def _set_clock(self, offset_s: int) -> None:
        try:
            clock = importlib.import_module("tollgate.core.clock")
        except ImportError:
            if not self._clock_warned:
                print("[WARN] tollgate.core.clock not importable; the local clock offset is ignored", file=sys.stderr)
                self._clock_warned = True
            return
        clock.SYSTEM_CLOCK.set_offset(offset_s)

    def _handler(self, spec: HandlerSpec) -> Callable[[Any, Any], Any]:
        if spec.function_id in self._handlers:
            return self._handlers[spec.function_id]
        module_path, _, attribute = spec.handler.rpartition(".")
        if not module_path or not attribute:
            raise ValueError(f"bad handler {spec.handler!r}")
        path = os.path.join(spec.code_dir, *module_path.split(".")) + ".py"
        module_spec = importlib.util.spec_from_file_location(spec.module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[spec.module_name] = module
        try:
            module_spec.loader.exec_module(module)
            handler = getattr(module, attribute)
        except BaseException:
            del sys.modules[spec.module_name]
            raise
        if not callable(handler):
            raise TypeError(f"{spec.handler} is not callable")
        self._handlers[spec.function_id] = handler
        return handler


def _exit_with_parent(parent_pid: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_STARTED = "started"
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
_WORKER_CODE = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); import sys; sys.path.insert(0, {root!r}); "
    "from infra.local.workers import worker_main; worker_main({fd})"
)


def worker_main(fd: int) -> None:
    """A worker process's loop: one invocation at a time until the pool closes the socket.

    The first message is ``(functions, sys_paths, parent_pid)``; the worker answers ``"ready"``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the gateway's to handle
    try:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        sys.stdout = sys.stderr
    conn = Connection(fd)
    functions, sys_paths, parent_pid = conn.recv()
    _exit_with_parent(parent_pid)
    for path in reversed(sys_paths):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    runtime = WorkerRuntime(functions)
    conn.send("ready")
    while True:
        try:
            invocation = conn.recv()
        except (EOFError, OSError):
            return
        if invocation is None:
            return
        result = runtime.invoke(invocation, on_start=lambda: conn.send(_STARTED))
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(result)


# ------------------------------------------------------------------------------ in the gateway


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection


class WorkerPool:
    """At most ``size`` worker processes; each invocation takes an idle one or starts a new one."""

    def __init__(self, functions: Mapping[str, HandlerSpec], *, size: int, sys_paths: Sequence[str]) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._functions = dict(functions)
        self._size = size
        self._sys_paths = list(sys_paths)
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: dict[int, _Worker] = {}
        self._starting = 0
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def pids(self) -> list[int]:
        with self._cond:
            return [pid for pid in self._all if pid]

    def invoke(self, invocation: Invocation, *, timeout_s: float | None = None) -> InvocationResult:
        """Run one invocation; waits for a free worker when all ``size`` are busy."""
        spec = self._functions.get(invocation.function_id)
        if spec is None:
            return InvocationResult(invocation.request_id, error_type="ResourceNotFoundException")
        limit = spec.timeout_s if timeout_s is None else timeout_s
        worker = self._acquire()
        healthy = False
        try:
            worker.conn.send(invocation)
            # The init phase (environment, imports on a cold start) has its own limit, as in Lambda.
            if not worker.conn.poll(INIT_TIMEOUT_S):
                message = f"Init timed out after {INIT_TIMEOUT_S:.2f} seconds"
                return InvocationResult(invocation.request_id, error_type="Sandbox.Timedout", error_message=message)
            message = worker.conn.recv()
            if message == _STARTED:
                if not worker.conn.poll(limit):
                    text = f"Task timed out after {limit:.2f} seconds"
                    return InvocationResult(invocation.request_id, error_type="Sandbox.Timedout", error_message=text)
                message = worker.conn.recv()
            result: InvocationResult = message
            healthy = True
            return result
        except (EOFError, OSError):
            message = "the worker process exited during the invocation"
            return InvocationResult(invocation.request_id, error_type="Runtime.ExitError", error_message=message)
        finally:
            self._release(worker, healthy=healthy)

    def close(self) -> None:
        """Stop every worker (busy ones included) by pid."""
        with self._cond:
            self._closed = True
            idle = list(self._idle)
            busy = [w for w in self._all.values() if all(w is not i for i in idle)]
            self._idle.clear()
            for worker in idle:
                self._all.pop(worker.process.pid, None)
            self._cond.notify_all()
        for worker in idle:
            _stop_process(worker)
        for worker in busy:  # their invoking threads see the pipe close and release them
            _end_process(worker.process)

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the worker pool is closed")
                if self._idle:
                    return self._idle.pop()  # the most recently used: the warmest
                if len(self._all) + self._starting < self._size:
                    self._starting += 1
                    break
                self._cond.wait()
        try:
            worker = self._spawn()
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
        with self._cond:
            if self._closed:
                _stop_process(worker)
                raise RuntimeError("the worker pool is closed")
            self._all[worker.process.pid] = worker
        return worker

    def _spawn(self) -> _Worker:
        parent_socket, child_socket = socket.socketpair()
        with child_socket:
            code = _WORKER_CODE.format(root=_REPO_ROOT, fd=child_socket.fileno())
            process = subprocess.Popen(
                [sys.executable, "-c", code], stdin=subprocess.DEVNULL, pass_fds=(child_socket.fileno(),)
            )
        parent_conn = Connection(parent_socket.detach())
        worker = _Worker(process, parent_conn)
        try:
            parent_conn.send((self._functions, self._sys_paths, os.getpid()))
            if not parent_conn.poll(SPAWN_TIMEOUT_S) or parent_conn.recv() != "ready":
                raise RuntimeError("a worker process did not start")
        except (EOFError, OSError, RuntimeError) as exc:
            _stop_process(worker)
            raise RuntimeError("a worker process did not start") from exc
        return worker

    def _release(self, worker: _Worker, *, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
            self._all.pop(worker.process.pid, None)
            self._cond.notify()
        _stop_process(worker)


def _stop_process(worker: _Worker) -> None:
    worker.conn.close()
    _end_process(worker.process)


def _end_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(2.0)
