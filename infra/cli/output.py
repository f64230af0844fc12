"""How ``tollgate`` draws for people: ``rich`` tables, numbers with thousands separators, nothing for absent
values. The JSON side is ``Session.emit``'s; these only render."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from infra.cli.session import GLOBAL_OPTIONS, F, Session, global_options


def command(**settings: Any) -> Callable[[F], click.Command]:
    """A ``tollgate`` command: the global options added, the ``Session`` passed as the first argument."""

    def wrap(function: F) -> click.Command:
        return _globals_last(click.command(**settings)(global_options(click.pass_obj(function))))

    return wrap


def group(**settings: Any) -> Callable[[F], click.Group]:
    """A group of ``tollgate`` commands (``tollgate usage check``), the global options accepted on it too."""

    def wrap(function: F) -> click.Group:
        return _globals_last(click.group(**settings)(global_options(function)))

    return wrap


C = TypeVar("C", bound=click.Command)


def _globals_last(built: C) -> C:
    """The command's own options first in its help, then the global ones."""
    built.params.sort(key=lambda param: param.name in GLOBAL_NAMES)
    return built


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
GLOBAL_NAMES = frozenset(name for _, name, _ in GLOBAL_OPTIONS)


def integer(low: int | None = None, high: int | None = None) -> click.IntRange:
    """An integer option from ``low`` to ``high``; a word that is not one reads "'x' is not a valid integer"."""
    bounded = click.IntRange(low, high)
    bounded.name = "integer"
    return bounded


def cell(value: Any) -> str:
    """One value as a person reads it: ``1,234`` for numbers, ``-`` for nothing, lists joined."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value) or "-"
    if isinstance(value, str) and TIMESTAMP.fullmatch(value):
        return f"{value[:10]} {value[11:19]}"  # the API's ISO-8601 UTC, without its T and Z
    return str(value)


def count(number: int, noun: str) -> str:
    """``1 tenant``, ``301 tenants``, ``0 tenants``."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def record(title: str, data: Mapping[str, Any], *, skip_empty: bool = True) -> Table:
    """One object as a two-column table (field, value)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in data.items():
        if skip_empty and value in (None, "", []):
            continue
        table.add_row(name.replace("_", " "), cell(value))
    return table


def rows(
    title: str | None,
    columns: Sequence[tuple[str, str]],
    items: Iterable[Mapping[str, Any]],
    *,
    caption: str | None = None,
    numeric: Iterable[str] = (),
    wrap: Iterable[str] = ("name", "mismatch", "difference", "reason"),
) -> Table:
    """Many objects as one table; ``columns`` are (key, heading) pairs; ``numeric`` keys align right; only
    ``wrap`` columns wrap when the terminal is narrow (ids, figures and times stay whole)."""
    right, wrap = set(numeric), set(wrap)
    lines = [[cell(item.get(key)) for key, _ in columns] for item in items]
    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    for n, (key, heading) in enumerate(columns):
        whole = max((len(line[n]) for line in lines), default=0) if key.endswith("id") else None  # never cut ids
        table.add_column(heading, justify="right" if key in right else "left", no_wrap=key not in wrap, min_width=whole)
    for line in lines:
        table.add_row(*line)
    return table


def show(*tables: Table) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        for table in tables:
            console.print(table)

    return render


def say(text: str, style: str | None = None) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        console.print(text, style=style)

    return render


__all__ = ["Session", "cell", "command", "count", "group", "integer", "record", "rows", "say", "show"]
