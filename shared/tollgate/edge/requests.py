"""Reading request bodies and query strings into typed values, with a clear error naming the field."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from tollgate.core import limits
from tollgate.core.errors import InvalidField, MalformedRequest, UnsupportedMediaType
from tollgate.core.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH

E = TypeVar("E", bound=Enum)


def raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except ValueError as exc:
            raise MalformedRequest("the body is not valid base64") from exc
    return body.encode() if isinstance(body, str) else bytes(body)


BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_MEDIA_TYPE = "application/json"


def require_json(event: Mapping[str, Any]) -> None:
    """Every route of this API reads JSON, so a request that may carry a body (POST, PUT, PATCH, DELETE) and
    declares another ``Content-Type`` (multipart, form, text), or sends a body without declaring one, is
    refused with 415 before any route, parser or credential sees it. Called once per request where the
    request enters: the resolver (``tollgate.edge.app``) and the validation function's handler.

    ``application/json`` may carry parameters (``; charset=utf-8``); a charset other than UTF-8 is refused
    too. Powertools would otherwise parse form and multipart bodies itself, and a model whose fields are all
    optional (the policy's) would take its defaults."""
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "").upper()
    if method not in BODY_METHODS:
        return
    declared = header(event, "content-type")
    if declared is None:
        if event.get("body"):
            raise UnsupportedMediaType(f"a body needs Content-Type: {JSON_MEDIA_TYPE}")
        return
    media_type, *parameters = (part.strip().lower() for part in str(declared).split(";"))
    charset = next((p.partition("=")[2].strip('"') for p in parameters if p.startswith("charset=")), "utf-8")
    if media_type != JSON_MEDIA_TYPE or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"the body must be JSON (Content-Type: {JSON_MEDIA_TYPE}), not {declared[:100]!r}")


def json_object(event: Mapping[str, Any], allow_empty: bool = False) -> Fields:
    body = raw_body(event)
    if len(body) > MAX_BODY_BYTES:
        raise MalformedRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        if allow_empty:
            return Fields({})
        raise MalformedRequest("a JSON object body is required")
    value = strict_json(body)
    if not isinstance(value, dict):
        raise MalformedRequest("the body must be a JSON object")
    return Fields(value)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise MalformedRequest("the body has an object with a duplicate key")
    return value


def _check_shape(value: Any) -> None:
    """Refuses nesting deeper than ``MAX_JSON_DEPTH`` and strings with lone UTF-16 surrogates (which
    ``json`` decodes from ``\\ud800`` escapes, and which no store, log or payment provider can encode)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise MalformedRequest(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None:
                    _check_text(key)
                stack.append((child, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedRequest("the body has a string with a lone UTF-16 surrogate") from exc


def strict_json(body: bytes | str) -> Any:
    """The JSON value of a request body, refusing what SPEC.md calls bad input: invalid UTF-8 or JSON,
    duplicate object keys, nesting deeper than ``MAX_JSON_DEPTH``, lone surrogates, non-finite numbers."""
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedRequest("the body is not valid UTF-8") from exc
    try:
        value = _strict_decoder().decode(body)
    except RecursionError as exc:
        raise MalformedRequest(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        raise MalformedRequest("the body is not valid JSON") from exc
    _check_shape(value)
    return value


@cache
def _strict_decoder() -> json.JSONDecoder:
    """One decoder for every body: ``json.loads`` with hooks builds a new one per call (validation's hot path)."""
    return json.JSONDecoder(
        object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant, parse_float=_finite_float
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedRequest(f"the body is not valid JSON ({text} is out of range)")
    return value


def _no_constant(name: str) -> Any:
    raise MalformedRequest(f"the body is not valid JSON ({name} is not a JSON number)")


def header(event: Mapping[str, Any], name: str) -> str | None:
    headers = event.get("headers") or {}
    return headers.get(name.lower())


def bearer_token(event: Mapping[str, Any]) -> str | None:
    """The credential of an ``Authorization: Bearer …`` header, or None."""
    value = header(event, "authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def prefers_minimal(event: Mapping[str, Any]) -> bool:
    """``Prefer: return=minimal`` (RFC 7240): the caller does not need the full answer."""
    prefer = header(event, "prefer") or ""
    return any(part.strip().lower() == "return=minimal" for part in prefer.split(","))


def idempotency_key(event: Mapping[str, Any], required: bool) -> str | None:
    key = header(event, "idempotency-key")
    if key is None:
        if required:
            raise InvalidField("Idempotency-Key", "this request needs an Idempotency-Key header")
        return None
    if not limits.IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidField("Idempotency-Key", "must be 1 to 255 printable ASCII characters")
    return key


class Fields:
    """A request object read field by field; ``done()`` rejects fields nobody asked for."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        self._read: set[str] = set()

    def _get(self, name: str, required: bool) -> Any:
        self._read.add(name)
        value = self._values.get(name)
        if value is None and required:
            raise InvalidField(name, "is required")
        return value

    def text(self, name: str, required: bool = True, max_length: int = 200, pattern: str | None = None) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise InvalidField(name, "must be a non-empty string")
        if len(value) > max_length:
            raise InvalidField(name, f"must be at most {max_length} characters")
        if limits.CONTROL_CHARACTERS.search(value):
            raise InvalidField(name, "must not contain control characters")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise InvalidField(name, limits.pattern_meaning(pattern))
        return value

    def integer(self, name: str, required: bool = True, minimum: int | None = None, maximum: int | None = None) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema's integers include 5.0; the contract says "integer"
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidField(name, "must be an integer")
        if minimum is not None and value < minimum:
            raise InvalidField(name, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise InvalidField(name, f"must be at most {maximum}")
        return value

    def texts(self, name: str, required: bool = True, max_items: int = 50, max_length: int = 64) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise InvalidField(name, "must be a non-empty list of strings")
        if len(value) > max_items or any(len(v) > max_length for v in value):
            raise InvalidField(name, f"at most {max_items} items of at most {max_length} characters")
        return list(dict.fromkeys(value))

    def flag(self, name: str) -> bool:
        """An optional boolean, false when absent."""
        value = self._get(name, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise InvalidField(name, "must be true or false")
        return value

    def choice(self, name: str, kind: type[E], required: bool = True) -> E | None:
        value = self._get(name, required)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError as exc:
            allowed = ", ".join(str(member.value) for member in kind)
            raise InvalidField(name, f"must be one of {allowed}") from exc

    def has(self, name: str) -> bool:
        return name in self._values

    def done(self) -> None:
        unknown = sorted(set(self._values) - self._read)
        if unknown:
            raise InvalidField(unknown[0], "is not a field of this request")


def query_param(event: Mapping[str, Any], name: str) -> str | None:
    params = event.get("queryStringParameters") or {}
    return params.get(name)


def limit_param(
    event: Mapping[str, Any], default: int = limits.PAGE_LIMIT_DEFAULT, maximum: int = limits.PAGE_LIMIT_MAX
) -> int:
    value = query_param(event, "limit")
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", value) or not 1 <= int(value) <= maximum:
        raise InvalidField("limit", f"must be an integer from 1 to {maximum}")
    return int(value)
