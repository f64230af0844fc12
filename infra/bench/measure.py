"""Measuring tools for the benchmark: a DynamoDB request counter on botocore's event hooks, stdout byte
counting, import timing in fresh interpreters, percentiles."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


@dataclass
class RequestCounter:
    """Counts every DynamoDB HTTP request (``before-send``: retries count too) of every botocore client
    created after ``install()``, pynamodb's included, and sums the capacity DynamoDB reports."""

    requests: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    ask_capacity: bool = False

    def install(self) -> None:
        import botocore.session

        original = botocore.session.Session.create_client
        counter = self

        def create_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            client = original(session, service_name, *args, **kwargs)
            if service_name == "dynamodb":
                client.meta.events.register("before-parameter-build.dynamodb", counter._ask_capacity)
                client.meta.events.register("before-send.dynamodb", counter._count)
                client.meta.events.register("after-call.dynamodb", counter._capacity)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        self.requests.clear()
        self.read_units = self.write_units = 0.0

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.ask_capacity and model.name in _CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _count(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        name = target.decode() if isinstance(target, bytes) else str(target)
        self.requests[name.rsplit(".", 1)[-1] or "?"] += 1

    def _capacity(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        for entry in entries:
            if "ReadCapacityUnits" in entry or "WriteCapacityUnits" in entry:
                self.read_units += float(entry.get("ReadCapacityUnits", 0.0))
                self.write_units += float(entry.get("WriteCapacityUnits", 0.0))
            elif model.name in _READ_OPERATIONS:
                self.read_units += float(entry.get("CapacityUnits", 0.0))
            else:
                self.write_units += float(entry.get("CapacityUnits", 0.0))


@contextmanager
def stdout_bytes() -> Iterator[list[int]]:
    """Sends file descriptor 1 to a temporary file and reports how many bytes were written (log volume)."""
    sys.stdout.flush()
    saved = os.dup(1)
    result = [0]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield result
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0, os.SEEK_END)
            result[0] = sink.tell()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


_TIMER = """
import sys, time
sys.path[:0] = {path!r}
wall, cpu = time.perf_counter(), time.process_time()
{code}
print((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)
"""


@dataclass(frozen=True)
class ImportTiming:
    name: str
    wall_ms: list[float]
    cpu_ms: list[float]

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_ms)


def time_imports(
    variants: Mapping[str, tuple[list[str], str]], runs: int, cwd: Path, env: Mapping[str, str]
) -> dict[str, ImportTiming]:
    """Each variant (sys.path prefix, code) in a fresh interpreter ``runs`` times, interleaved so that
    load on the machine hits every variant alike. One warm-up run each first writes the bytecode cache
    (into a private PYTHONPYCACHEPREFIX), as a deployed layer with compiled bytecode would have it."""
    child_env = dict(env)
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)
    child_env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "tollgate-bench-pycache")
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in variants}
    for attempt in range(runs + 1):
        for name, (path, code) in variants.items():
            done = subprocess.run(
                [sys.executable, "-c", _TIMER.format(path=path, code=code)],
                cwd=cwd,
                env=child_env,
                capture_output=True,
                text=True,
                check=True,
            )
            wall, cpu = (float(v) for v in done.stdout.split()[-2:])
            if attempt:
                samples[name][0].append(wall)
                samples[name][1].append(cpu)
    return {name: ImportTiming(name, wall, cpu) for name, (wall, cpu) in samples.items()}
