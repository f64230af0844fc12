"""Page cursors: opaque to callers, and tamper-proof.

A cursor is ``<payload>.<tag>``: the payload is the page position as URL-safe base64 JSON, the tag an
HMAC-SHA256 (truncated to 128 bits) over the cursor's kind, the tenant it was issued to and the payload,
with a key derived from the credential pepper. So the server can trust what a cursor carries (the ledger's
running balance, say), a cursor works only for the listing and the tenant it was issued for, and anything
else is refused as the ``cursor`` field before any DynamoDB call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from tollgate.core.errors import InvalidField
from tollgate.core.limits import CURSOR_MAX

_TAG_BYTES = 16
_SHAPE = re.compile(rf"[A-Za-z0-9_-]{{1,{CURSOR_MAX}}}\.[A-Za-z0-9_-]{{22}}")
_PURPOSE = b"tollgate page cursor v1"

LEDGER_CURSOR = "ledger"  # the kinds of listing a cursor is bound to
PURCHASE_CURSOR = "purchases"
EVENT_CURSOR = "events"


def _pepper() -> str:
    from tollgate.core.settings import secret  # deferred: resolved from SSM on the first page that needs it

    return secret("CREDENTIAL_PEPPER")


@cache
def _derived_key(pepper: str) -> bytes:
    return hmac.new(pepper.encode(), _PURPOSE, hashlib.sha256).digest()


class Cursors:
    """Seals and opens page positions. ``pepper`` is read when first needed (tests pass their own)."""

    def __init__(self, pepper: Callable[[], str] = _pepper) -> None:
        self._pepper = pepper

    def _tag(self, kind: str, tenant_id: str, payload: str) -> str:
        message = f"{kind}|{tenant_id}|{payload}".encode()
        tag = hmac.new(_derived_key(self._pepper()), message, hashlib.sha256).digest()[:_TAG_BYTES]
        return _b64(tag)

    def seal(self, kind: str, tenant_id: str, position: dict[str, Any]) -> str:
        payload = _b64(json.dumps(position, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._tag(kind, tenant_id, payload)}"

    def open(self, kind: str, tenant_id: str, cursor: str) -> dict[str, Any]:
        """The position sealed in ``cursor``; InvalidField("cursor") unless this API issued it for this
        tenant and this listing."""
        if len(cursor) > CURSOR_MAX or not _SHAPE.fullmatch(cursor):
            raise _not_ours()
        payload, _, tag = cursor.partition(".")
        if not hmac.compare_digest(tag, self._tag(kind, tenant_id, payload)):
            raise _not_ours()
        try:
            position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error) as exc:  # only if the key leaked: still never a 500
            raise _not_ours() from exc
        if not isinstance(position, dict):
            raise _not_ours()
        return position


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _not_ours() -> InvalidField:
    return InvalidField("cursor", "is not a cursor this API returned")


def text_at(position: dict[str, Any], name: str) -> str:
    """A string the sealed position must carry (else the cursor is refused, never a 500)."""
    value = position.get(name)
    if not isinstance(value, str) or not value:
        raise _not_ours()
    return value


def integer_at(position: dict[str, Any], name: str) -> int:
    value = position.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _not_ours()
    return value


CURSORS = Cursors()
