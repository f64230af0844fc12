"""Stripe list objects: ``limit``, ``starting_after``/``ending_before`` cursors and ``created`` ranges."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import objects
from .errors import invalid, no_such
from .forms import Params

JSON = dict[str, Any]
PAGING = ("limit", "starting_after", "ending_before", "expand")

_RANGE_OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


def created_filter(params: Params, name: str = "created") -> Callable[[JSON], bool]:
    """``created=<t>`` or ``created[gte]=<t>`` (and ``gt``, ``lt``, ``lte``) as a predicate."""
    if isinstance(params.data.get(name), str):
        exact = params.integer(name)
        return lambda obj: exact is None or obj["created"] == exact
    spec = params.child(name)
    if spec is None:
        return lambda _obj: True
    spec.reject_unknown(_RANGE_OPERATORS)
    bounds: list[tuple[Callable[[int, int], bool], int]] = []
    for operator, test in _RANGE_OPERATORS.items():
        bound = spec.integer(operator)
        if bound is not None:
            bounds.append((test, bound))
    return lambda obj: all(test(obj["created"], bound) for test, bound in bounds)


def page(newest_first: list[JSON], params: Params, *, url: str, kind: str, all_ids: list[str]) -> JSON:
    """One page of ``newest_first`` (already filtered). ``all_ids`` is every id of the kind, newest first,
    so that a cursor may name an object the filters leave out, as Stripe allows."""
    limit = params.integer("limit", minimum=1, maximum=100)
    limit = 10 if limit is None else limit
    after = params.text("starting_after")
    before = params.text("ending_before")
    if after is not None and before is not None:
        raise invalid("starting_after", "You may only specify one of these parameters: ending_before, starting_after.")
    rank = {object_id: index for index, object_id in enumerate(all_ids)}
    if after is not None:
        if after not in rank:
            raise no_such(kind, after, "starting_after")
        older = [obj for obj in newest_first if rank[obj["id"]] > rank[after]]
        return objects.list_object(older[:limit], url, has_more=len(older) > limit)
    if before is not None:
        if before not in rank:
            raise no_such(kind, before, "ending_before")
        newer = [obj for obj in newest_first if rank[obj["id"]] < rank[before]]
        return objects.list_object(newer[-limit:], url, has_more=len(newer) > limit)
    return objects.list_object(newest_first[:limit], url, has_more=len(newest_first) > limit)
