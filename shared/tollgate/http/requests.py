"""Reading request bodies and query strings into typed values, with a clear error naming the field."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from tollgate.domain.errors import InvalidField, MalformedRequest

E = TypeVar("E", bound=Enum)
MAX_BODY_BYTES = 64 * 1024
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except ValueError as exc:
            raise MalformedRequest("the body is not valid base64") from exc
    return body.encode() if isinstance(body, str) else bytes(body)


def json_object(event: Mapping[str, Any], allow_empty: bool = False) -> Fields:
    body = raw_body(event)
    if len(body) > MAX_BODY_BYTES:
        raise MalformedRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        if allow_empty:
            return Fields({})
        raise MalformedRequest("a JSON object body is required")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest("the body is not valid JSON") from exc
    if not isinstance(value, dict):
        raise MalformedRequest("the body must be a JSON object")
    return Fields(value)


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
    if not _IDEMPOTENCY_KEY.match(key):
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
        if pattern is not None and not re.fullmatch(pattern, value):
            raise InvalidField(name, f"must match {pattern}")
        return value

    def integer(self, name: str, required: bool = True, minimum: int | None = None, maximum: int | None = None) -> Any:
        value = self._get(name, required)
        if value is None:
            return None
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


def limit_param(event: Mapping[str, Any], default: int = 50, maximum: int = 200) -> int:
    value = query_param(event, "limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise InvalidField("limit", f"must be an integer from 1 to {maximum}")
    return int(value)
