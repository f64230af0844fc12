"""What every handler is given: the account, the webhook courier, the stand-in's own address, the request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .forms import Params
from .state import Store
from .webhooks import Courier

JSON = dict[str, Any]


@dataclass
class Core:
    store: Store
    courier: Courier
    base_url: str


@dataclass(frozen=True)
class Call:
    """One Stripe API request, decoded."""

    params: Params
    args: tuple[str, ...]
    request_id: str
    idempotency_key: str | None


@dataclass
class Reply:
    """An API answer, and the events to deliver once the store lock is released."""

    body: JSON
    status: int = 200
    deliver: list[str] = field(default_factory=list)
