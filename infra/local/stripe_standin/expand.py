"""``expand[]``: replace ids in an answer by the objects they name, along dotted paths.

``payment_intent``, ``customer``, ``line_items`` (a Checkout Session's, which is not shown unless
expanded), ``payment_intent.latest_charge``, ``line_items.data.price.product``, and ``data.…`` on lists.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .errors import ApiError

JSON = dict[str, Any]
Lookup = Callable[[str], JSON | None]
Virtual = Callable[[JSON, str], JSON | None]
MAX_DEPTH = 4


def _cannot(path: str) -> ApiError:
    return ApiError(400, f"This property cannot be expanded ({path}).", param="expand")


def _expand(node: JSON, segments: list[str], path: str, lookup: Lookup, virtual: Virtual) -> None:
    name, rest = segments[0], segments[1:]
    if name in node:
        value = node[name]
    else:
        value = virtual(node, name)
        if value is None:
            raise _cannot(path)
        node[name] = value
    if isinstance(value, str):
        target = lookup(value)
        if target is None:
            raise _cannot(path)
        value = node[name] = copy.deepcopy(target)
    if value is not None and not isinstance(value, dict | list):
        raise _cannot(path)
    if not rest or value is None:
        return
    children = value if isinstance(value, list) else [value]
    for child in children:
        if not isinstance(child, dict):
            raise _cannot(path)
        _expand(child, rest, path, lookup, virtual)


def expand(body: JSON, paths: list[str], lookup: Lookup, virtual: Virtual) -> None:
    """Expand ``paths`` in ``body`` in place; ``body`` must be the caller's own copy."""
    for path in paths:
        segments = path.split(".")
        if len(segments) > MAX_DEPTH or not all(segments):
            raise ApiError(
                400,
                f"You cannot expand more than {MAX_DEPTH} levels of a property ({path}).",
                param="expand",
            )
        _expand(body, segments, path, lookup, virtual)
