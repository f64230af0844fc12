"""CEL conditions of policy rules: evaluated by Google's CEL runtime (``cel-expr-python``, the C++ CEL
runtime), their cost bounded before they are stored (SPEC.md, "Approvals", **Bounded evaluation**).

Loaded only when a policy has a condition (``tollgate.approvals.rules`` imports this module lazily), though
the runtime costs ~2 ms to import (celpy cost 120–140 ms; docs/decisions.md has the figures). Each
expression is compiled and type-checked once per container (an LRU cache keyed by its text).

Two bounds (docs/decisions.md, "CEL conditions"):

- **Before it is stored** (``PUT /v1/policy``), a condition's cost is estimated statically from its syntax
  tree (``estimate_cost``): every operation costs 1, and a comprehension (``all``, ``exists``,
  ``exists_one``, ``map``, ``filter``) costs its range's size times its body's cost, so nesting multiplies.
  Over ``limits.MAX_CONDITION_COST`` (or a policy's total over ``limits.MAX_POLICY_CONDITION_COST``) the
  PUT is a 422. The tree comes from celpy's parser (lark), which only the approvals function loads, only
  on a PUT or simulate with conditions.
- **When it runs**, the runtime's own comprehension iteration budget stops any evaluation that would
  still run long (a policy written before the bound, say): the error denies (fail closed).

The variables (SPEC.md, "Approvals"): ``action``, ``feature``, ``tokens``, ``project``, ``environment``,
``region`` (strings or null; tokens an int), ``attributes`` (a map), ``key`` (``{id, kind, role}``) and
``now`` (a CEL timestamp, so ``now.getHours("Europe/Berlin")`` works).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cel_expr_python import cel

from tollgate.core import limits

VARIABLES = ("action", "feature", "tokens", "project", "environment", "region", "attributes", "key", "now")
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
_MESSAGE_MAX = 200


class ConditionError(Exception):
    """A condition could not be evaluated to a boolean (defined here, where it is raised, so that ``rules``
    imports this module and not the other way round)."""


class ConditionSyntaxError(ValueError):
    """The expression does not compile, names a variable that does not exist, is not a boolean, or costs
    more than the bound."""


@lru_cache(maxsize=1)
def _environment() -> Any:
    kind = cel.Type
    text = kind.DYN  # a string or null
    variables = {
        "action": text,
        "feature": text,
        "tokens": kind.INT,
        "project": text,
        "environment": text,
        "region": text,
        "attributes": kind.Map(kind.STRING, kind.DYN),
        "key": kind.Map(kind.STRING, kind.DYN),
        "now": kind.TIMESTAMP,
    }
    return cel.NewEnv(variables=variables)


@lru_cache(maxsize=256)
def _program(expression: str) -> Any:
    try:
        return _environment().compile(expression)
    except Exception as exc:  # the runtime raises RuntimeError with the parser's or checker's message
        raise ConditionSyntaxError(f"does not compile: {_explain(exc)}") from exc


def compile_condition(expression: str) -> int:
    """The condition's estimated cost; ``ConditionSyntaxError`` unless ``expression`` compiles, names only
    the known variables, may be a boolean, and costs at most ``limits.MAX_CONDITION_COST``."""
    program = _program(expression)
    returned = program.return_type()
    if returned.name() not in ("BOOL", "DYN"):
        raise ConditionSyntaxError(f"its value is a {returned.name().lower()}, not a bool")
    cost = estimate_cost(expression)
    if cost > limits.MAX_CONDITION_COST:
        raise ConditionSyntaxError(
            f"it would cost about {cost} steps to evaluate, more than the {limits.MAX_CONDITION_COST} a condition "
            "may (comprehensions multiply: nest fewer, or over shorter lists)"
        )
    return cost


def evaluate_condition(expression: str, variables: dict[str, Any]) -> bool:
    """The condition's value; ``ConditionError`` when it fails, runs over the runtime's iteration budget, or
    its value is not a boolean."""
    try:
        value = _program(expression).eval(data=_activation(variables))
    except Exception as exc:
        raise ConditionError(_explain(exc)) from exc
    kind = value.type().name()
    if kind != "BOOL":
        message = str(value) if kind == "ERROR" else f"the condition's value is a {kind.lower()}, not a bool"
        raise ConditionError(message[:_MESSAGE_MAX])
    return bool(value.plain_value())


def _activation(variables: dict[str, Any]) -> dict[str, Any]:
    activation = dict(variables)
    activation["now"] = datetime.fromtimestamp(int(variables["now"]), UTC)
    return activation


def _explain(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    for prefix in ("INVALID_ARGUMENT: ", "ERROR: <input>:"):
        text = text.removeprefix(prefix)
    return text.splitlines()[0][:_MESSAGE_MAX] if text else type(exc).__name__


# ------------------------------------------------------------------------------------ the static estimate


def estimate_cost(expression: str) -> int:
    """Steps an evaluation may take at most, from the syntax tree: 1 per operation; a comprehension costs
    its range plus the range's size times (1 + its body); a list or map literal's size is its length, a
    list built by ``+`` the sum of both, any other collection ``limits.MAX_ATTRIBUTES`` (the largest a
    request carries: ``attributes``)."""
    import celpy  # the parser only; on the PUT path of the approvals function alone

    try:
        tree = celpy.Environment().compile(expression)
        return _cost(tree)[0]
    except RecursionError as exc:
        raise ConditionSyntaxError("it is nested too deeply") from exc
    except Exception as exc:
        raise ConditionSyntaxError(f"its cost cannot be estimated: {_explain(exc)}") from exc


def _cost(node: Any) -> tuple[int, int]:
    """(cost, size) of a lark tree node; size: how many items it has if it is a collection."""
    children = [child for child in getattr(node, "children", ()) if hasattr(child, "data")]
    kind = getattr(node, "data", None)
    if kind is None:
        return 0, limits.MAX_ATTRIBUTES
    if kind == "member_dot_arg":
        name = str(node.children[1])
        arguments = _expressions(node.children[2]) if len(node.children) > 2 else []
        if name in COMPREHENSIONS and len(arguments) >= 2:
            range_cost, size = _cost(node.children[0])
            body = sum(_cost(argument)[0] for argument in arguments[1:])
            return range_cost + size * (1 + body), size
    if kind in ("list_lit", "map_lit"):
        items = [_cost(child) for child in children]
        entries = sum(len(_expressions(child)) for child in children)
        return 1 + sum(cost for cost, _ in items), entries // 2 if kind == "map_lit" else entries
    if kind == "addition" and len(children) == 2:
        (left_cost, left_size), (right_cost, right_size) = (_cost(child) for child in children[:2])
        return 1 + left_cost + right_cost, left_size + right_size
    if len(children) == 1 and len(node.children) == 1:
        return _cost(children[0])  # the grammar's chain of one-child rules (expr → … → primary)
    return 1 + sum(_cost(child)[0] for child in children), limits.MAX_ATTRIBUTES


def _expressions(exprlist: Any) -> list[Any]:
    return [child for child in getattr(exprlist, "children", ()) if getattr(child, "data", None) == "expr"]
