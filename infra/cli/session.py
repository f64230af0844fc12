"""What every command of ``tollgate`` shares: the global options (accepted anywhere on the line), the stack
they aim at, the exit codes, and the two ways of printing (a ``rich`` table for people, one JSON document
with ``--json``), plus progress on a terminal for long jobs.

A command never prints with ``print``: it hands its data and a table renderer to ``Session.emit``, so both
output modes exist for every command by construction.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

import click
from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3
PIPED_WIDTH = 160
F = TypeVar("F", bound=Callable[..., Any])


class CheckFailed(Exception):
    """A check found what it looks for (a mismatch, a broken chain): the report was printed; exit 1."""


@dataclass
class Options:
    local: bool = False
    stage: str | None = None
    table: str | None = None
    json: bool = False


@dataclass
class Session:
    """One run of the tool: its options (set by whichever command on the line names them) and output."""

    options: Options = field(default_factory=Options)
    _configured: bool = False

    # ---- the stack
    def services(self) -> ModuleType:
        """The composition root, once the data layer knows which table to use (it reads its settings once,
        on first import: so nothing imports it before the options are all read)."""
        if not self._configured:
            self._configure()
            self._configured = True
        from tollgate import services

        return services

    def _configure(self) -> None:
        options = self.options
        if options.local and options.stage:
            raise click.UsageError("--local and --stage name different stacks: give one")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # info logs would mix with what is printed
        if options.local:
            _aim_at_local_stack()
        elif options.stage:
            os.environ["TABLE_NAME"] = f"tollgate-{options.stage}"
        if options.table:
            os.environ["TABLE_NAME"] = options.table
        if not os.environ.get("TABLE_NAME"):
            raise click.UsageError("say which stack: --local, --stage dev|prod, --table NAME or TABLE_NAME")

    @staticmethod
    def actor() -> str:
        return f"operator:{os.environ.get('TOLLGATE_OPERATOR') or getpass.getuser()}"

    # ---- output
    @property
    def console(self) -> Console:
        """stdout. Piped (no terminal to size it), at least ``PIPED_WIDTH`` columns wide (more if ``COLUMNS``
        says so), so that tables keep whole columns whatever width the caller's environment claims."""
        if sys.stdout.isatty():
            return Console(highlight=False)
        claimed = os.environ.get("COLUMNS", "")
        return Console(highlight=False, width=max(PIPED_WIDTH, int(claimed) if claimed.isdigit() else 0))

    def emit(self, data: Any, render: Callable[[Console], None]) -> None:
        """``data`` as one JSON document with ``--json`` (keys sorted, so scripts may diff it); otherwise
        ``render`` draws it for people."""
        if self.options.json:
            click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        else:
            render(self.console)

    @contextmanager
    def progress(self, label: str, total: int | None) -> Iterator[Callable[[], None]]:
        """A progress bar (or, with no ``total``, a spinner) on stderr, only when stderr is a terminal and
        the output is not ``--json``; yields ``advance()``. Piped or scripted runs print nothing extra."""
        if self.options.json or not sys.stderr.isatty():
            yield lambda: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            SpinnerColumn,
            TimeElapsedColumn,
        )

        columns: list[str | ProgressColumn] = [SpinnerColumn(), "[progress.description]{task.description}"]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)


def _aim_at_local_stack() -> None:
    os.environ["TOLLGATE_DDB_ENDPOINT"] = f"http://127.0.0.1:{os.environ.get('TOLLGATE_DDB_PORT', '8000')}"
    os.environ["TABLE_NAME"] = "tollgate-local"
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_REGION", os.environ.get("TOLLGATE_REGION", "us-east-1"))
    os.environ.setdefault("TOLLGATE_OPERATOR", "local-operator")
    os.environ.setdefault("TOLLGATE_DDB_READ_TIMEOUT_S", "6")  # as the local stack's functions
    os.environ.setdefault("TOLLGATE_DDB_RETRY_BUDGET_S", "8")
    os.environ.setdefault("STRIPE_API_KEY", "sk_test_tollgate_local")
    os.environ.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{os.environ.get('TOLLGATE_STRIPE_PORT', '12111')}")
    _follow_local_clock()


def _follow_local_clock() -> None:
    """The local stack's application clock may have been moved (``POST /_local/clock``): the operator tool
    reads the same clock, so a grant made after the move is dated by it. No stack running: the wall clock."""
    from tollgate.core.clock import SYSTEM_CLOCK

    url = f"http://127.0.0.1:{os.environ.get('TOLLGATE_API_PORT', '3000')}/_local/clock"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            SYSTEM_CLOCK.set_offset(int(json.load(answer)["offset_s"]))
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        click.echo("tollgate: the local gateway did not answer; using the wall clock", err=True)


# ---- the global options: on the root and on every command, so they may come anywhere on the line


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value not in (None, False):
            setattr(ctx.ensure_object(Session).options, name, value)

    return callback


GLOBAL_OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--local", "local", {"is_flag": True, "help": "Use the local stack (DynamoDB Local on TOLLGATE_DDB_PORT)."}),
    ("--stage", "stage", {"type": click.Choice(["dev", "prod"]), "help": "Use the deployed table tollgate-STAGE."}),
    ("--table", "table", {"metavar": "NAME", "help": "Table name (overrides --stage and TABLE_NAME)."}),
    ("--json", "json", {"is_flag": True, "help": "Print one JSON document instead of tables (for scripts)."}),
)


def global_options(command: F) -> F:
    """Adds ``--local``, ``--stage``, ``--table`` and ``--json`` to a command or group: each may be given on
    any level of the line (``tollgate --json audit`` = ``tollgate audit --json``)."""
    for flag, name, settings in reversed(GLOBAL_OPTIONS):
        command = click.option(flag, **settings, expose_value=False, callback=_remember(name))(command)
    return command


def session(ctx: click.Context) -> Session:
    return ctx.ensure_object(Session)
