"""CEL conditions of policy rules, with cel-python (``celpy``).

Loaded only when a policy has a condition (``tollgate.approvals.rules`` imports this module lazily): celpy
costs 120–140 ms to import (docs/performance.md), which no cold start that does not need it should pay.
Each expression is compiled once per container (an LRU cache keyed by its text, so a policy version's
conditions compile on first use and are reused by every later call).

The variables (SPEC.md, "Approvals"): ``action``, ``feature``, ``tokens``, ``project``, ``environment``,
``region`` (strings or null; tokens an int), ``attributes`` (a map), ``key`` (``{id, kind, role}``) and
``now`` (a CEL timestamp, so ``now.getHours("Europe/Berlin")`` works).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import celpy
from celpy import celtypes

VARIABLES = ("action", "feature", "tokens", "project", "environment", "region", "attributes", "key", "now")
_MESSAGE_MAX = 200


class ConditionError(Exception):
    """A condition could not be evaluated to a boolean (defined here, where it is raised, so that ``rules``
    imports this module and not the other way round)."""


class ConditionSyntaxError(ValueError):
    """The expression does not compile, or names a variable that does not exist."""


@lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    environment = celpy.Environment()
    try:
        ast = environment.compile(expression)
    except Exception as exc:  # celpy raises CELParseError, and lark its own errors on odd input
        raise ConditionSyntaxError(_first_line(exc)) from exc
    return environment.program(ast)


def compile_condition(expression: str) -> None:
    """Raises ``ConditionSyntaxError`` unless ``expression`` compiles and names only known variables (tried
    against sample values: an error other than an unknown name, such as a missing attribute, is fine here,
    and denies when it happens for real)."""
    program = _program(expression)
    sample = {
        "action": "consume",
        "feature": "build",
        "tokens": 1,
        "project": None,
        "environment": None,
        "region": None,
        "attributes": {},
        "key": {"id": "ak_0000000000000000", "kind": "api", "role": "member"},
        "now": 946_684_800,
    }
    try:
        program.evaluate(_activation(sample))
    except Exception as exc:
        if "undeclared reference" in str(exc):
            name = exc.args[2][0] if len(exc.args) > 2 and exc.args[2] else "?"
            raise ConditionSyntaxError(f"unknown variable {name}; known: {', '.join(VARIABLES)}") from exc


def evaluate_condition(expression: str, variables: dict[str, Any]) -> bool:
    """The condition's value; ``ConditionError`` when it fails or its value is not a boolean."""
    try:
        program = _program(expression)
        value = program.evaluate(_activation(variables))
    except Exception as exc:
        raise ConditionError(_first_line(exc)) from exc
    if not isinstance(value, celtypes.BoolType):
        raise ConditionError(f"the condition's value is a {type(value).__name__}, not a bool")
    return bool(value)


def _activation(variables: dict[str, Any]) -> dict[str, Any]:
    activation = {name: celpy.json_to_cel(value) for name, value in variables.items() if name != "now"}
    activation["now"] = celtypes.TimestampType(datetime.fromtimestamp(int(variables["now"]), UTC))
    return activation


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text.splitlines()[0][:_MESSAGE_MAX] if text else type(exc).__name__
