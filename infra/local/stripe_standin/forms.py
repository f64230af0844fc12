"""Decode Stripe's bracket form encoding into nested dicts and lists, and read typed values.

``metadata[purchase_id]=p1&line_items[0][price_data][unit_amount]=500&expand[]=x`` becomes
``{"metadata": {"purchase_id": "p1"}, "line_items": [{"price_data": {"unit_amount": "500"}}],
"expand": ["x"]}``. Every leaf stays a string, as on the wire; :class:`Params` converts it where
it is read and answers Stripe's errors (``parameter_missing``, ``parameter_invalid_integer``, …).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from .errors import ApiError, invalid, missing, unknown_param

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
# Keys under these names are free-form strings, never list indices.
_FREE_FORM = frozenset({"metadata"})


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        raise ApiError(400, f"Invalid parameter name: {key}", code="parameter_unknown", param=key)
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _listify(node: Any, name: str) -> Any:
    """Turn dicts whose keys are all indices (``0``, ``1``, … or appended ``[]``) into lists."""
    if not isinstance(node, dict):
        return node
    children = {key: _listify(value, key) for key, value in node.items()}
    if name not in _FREE_FORM and children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for key, value in pairs:
        segments = _split_key(key)
        node = root
        for depth, segment in enumerate(segments):
            last = depth == len(segments) - 1
            name = str(len(node)) if segment == "" else segment
            if last:
                if isinstance(node.get(name), dict):
                    raise invalid(key, f"Invalid value for {key}: expected an object.")
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise invalid(key, f"Invalid value for {key}: mixes a value and an object.")
                node = child
    return {key: _listify(value, key) for key, value in root.items()}


def decode_query(text: str) -> dict[str, Any]:
    return decode(parse_qsl(text, keep_blank_values=True))


class Params:
    """Typed, Stripe-validated access to one level of decoded parameters."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def path(self, name: str) -> str:
        return f"{self.prefix}[{name}]" if self.prefix else name

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        known = set(allowed)
        for name in self.data:
            if name not in known:
                raise unknown_param(self.path(name))

    def has(self, name: str) -> bool:
        value = self.data.get(name)
        return value is not None and value != ""

    def text(self, name: str, *, required: bool = False, choices: Iterable[str] = ()) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise missing(self.path(name))
            return None
        if not isinstance(value, str):
            raise invalid(
                self.path(name), f"Invalid string: {self.path(name)} must be a string.", "parameter_invalid_string"
            )
        allowed = tuple(choices)
        if allowed and value not in allowed:
            raise invalid(
                self.path(name),
                f"Invalid {self.path(name)}: must be one of {', '.join(allowed)}",
                "parameter_invalid_enum",
            )
        return value

    def required_text(self, name: str, *, choices: Iterable[str] = ()) -> str:
        value = self.text(name, required=True, choices=choices)
        if value is None:  # text() raised already; this narrows the type
            raise missing(self.path(name))
        return value

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        raw = self.text(name, required=required)
        if raw is None:
            return None
        try:
            number = int(raw)
        except ValueError:
            raise invalid(self.path(name), f"Invalid integer: {raw}", "parameter_invalid_integer") from None
        if minimum is not None and number < minimum:
            raise invalid(
                self.path(name),
                f"This value must be greater than or equal to {minimum}.",
                "parameter_invalid_integer",
            )
        if maximum is not None and number > maximum:
            raise invalid(
                self.path(name), f"This value must be less than or equal to {maximum}.", "parameter_invalid_integer"
            )
        return number

    def required_integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.integer(name, required=True, minimum=minimum, maximum=maximum)
        if value is None:  # integer() raised already; this narrows the type
            raise missing(self.path(name))
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self.text(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            raise invalid(self.path(name), f"Invalid boolean: {raw}", "parameter_invalid_boolean")
        return raw == "true"

    def child(self, name: str) -> Params | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise invalid(
                self.path(name), f"Invalid object: {self.path(name)} must be a hash.", "parameter_invalid_object"
            )
        return Params(value, self.path(name))

    def items(self, name: str, *, required: bool = False) -> list[Params]:
        value = self.data.get(name)
        if value is None or value == "" or value == []:
            if required:
                raise missing(self.path(name))
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise invalid(
                self.path(name),
                f"Invalid array: {self.path(name)} must be a list of hashes.",
                "parameter_invalid_array",
            )
        return [Params(item, f"{self.path(name)}[{index}]") for index, item in enumerate(value)]

    def strings(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise invalid(
                self.path(name),
                f"Invalid array: {self.path(name)} must be a list of strings.",
                "parameter_invalid_array",
            )
        return list(value)

    def metadata(self, name: str = "metadata") -> dict[str, str]:
        value = self.data.get(name)
        if value is None or value == "":
            return {}
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise invalid(
                self.path(name), "Invalid object: metadata must be a hash of strings.", "parameter_invalid_object"
            )
        if len(value) > 50:
            raise invalid(self.path(name), "You can specify up to 50 metadata keys.", "parameter_invalid_object")
        for key, item in value.items():
            if len(key) > 40 or len(item) > 500:
                raise invalid(
                    self.path(name),
                    "Metadata keys may be up to 40 characters and values up to 500 characters.",
                    "parameter_invalid_string",
                )
        return {key: item for key, item in value.items() if item != ""}
