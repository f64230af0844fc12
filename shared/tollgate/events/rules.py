"""Events to the tenant: what a tenant may want to hear about, written to the outbox in the same transaction
as the change that causes it (``PoolTransaction.event``), then carried by the table's stream to the notifier.

An event's id is its identity: a change that could be attempted twice (a retried request, a Stripe event
delivered again, two sweepers) passes an id derived from the change's own identity (``event_id``), so the
outbox's conditional put keeps one event per change whatever repeats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField
from tollgate.core.events import EVENT_TYPES, RETENTION_S, Event
from tollgate.core.models import Principal

EVENT_ID_PREFIX = "ev"


@dataclass(frozen=True)
class SendResult:
    """What one webhook attempt got (the notifier's ``Sender`` port answers with it; ``sender.WebhookSender`` is
    the real one): an HTTP status, or an error (refused, timeout, connection, TLS)."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        """Delivered: a 2xx, and no error (a 2xx whose answer did not end within the bound is a failure)."""
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


def event_id(*identity: str) -> str:
    """A deterministic event id from the identity of the change it reports (``ev_`` + 24 hex characters)."""
    digest = hashlib.sha256("|".join(identity).encode()).hexdigest()[:24]
    return f"{EVENT_ID_PREFIX}_{digest}"


def new_event(tenant_id: str, type: str, at: int, data: dict[str, Any], *identity: str) -> Event:
    """An event whose id derives from ``identity`` (the change's own id, say), or from its type, tenant and
    data when none is given."""
    parts = identity or (tenant_id, type, str(at), repr(sorted(data.items())))
    return Event(id=event_id(tenant_id, type, *parts), tenant_id=tenant_id, type=type, at=at, data=data)


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    cursor: str | None


class EventLog(Protocol):
    def page(self, tenant_id: str, *, since: int, type: str | None, cursor: str | None, limit: int) -> EventPage:
        """Newest first, at or after ``since``."""
        ...


class EventService:
    """What a tenant's events say: the last 30 days, of one type when asked."""

    def __init__(self, log: EventLog, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    def list(self, caller: Principal, type: str | None, cursor: str | None, limit: int) -> EventPage:
        if type is not None and type not in EVENT_TYPES:
            raise InvalidField("type", "is not an event type (see the API's Event schema)")
        since = self._clock.now() - RETENTION_S
        return self._log.page(caller.tenant_id, since=since, type=type, cursor=cursor, limit=limit)
