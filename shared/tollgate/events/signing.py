"""Standard Webhooks signatures, with the specification's own library (``standardwebhooks``).

Headers: ``webhook-id`` (stable per event and endpoint, so a receiver dedupes redeliveries by it),
``webhook-timestamp`` (the attempt's time, Unix seconds) and ``webhook-signature``: one ``v1,<base64>``
per secret, space-separated, so during a rotation's overlap the old and the new secret both verify.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 32 random bytes in base64, as Standard Webhooks expects."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_id(event_id: str, endpoint_id: str) -> str:
    """The same for every attempt of one event to one endpoint."""
    return f"msg_{event_id}_{endpoint_id}"


def signed_headers(message_id: str, timestamp: int, body: str, keys: Sequence[str]) -> dict[str, str]:
    from standardwebhooks.webhooks import Webhook  # deferred: only the notifier signs

    at = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = " ".join(Webhook(key).sign(message_id, at, body) for key in keys)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signatures}
