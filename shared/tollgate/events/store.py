"""The outbox: events stored under the tenant's events partition, newest last, for 30 days.

Events are written by the change that causes them, in its transaction (``PoolTransaction.event``); a change
that is not a pool transaction writes one with ``emit``. Either way the put is conditional on the event's id
being new, so a retried change never writes its event twice. The table's stream carries new events to the
notifier (``kind = "event"`` is what its filter matches).
"""

from __future__ import annotations

from pynamodb.exceptions import PutError

from tollgate.core.errors import InvalidField
from tollgate.events.rules import Event, EventPage
from tollgate.kernel import keys
from tollgate.kernel.cursors import CURSORS, EVENT_CURSOR, text_at
from tollgate.kernel.errors import busy_as_store_busy, cause_code, with_retries
from tollgate.kernel.items import EventItem
from tollgate.kernel.records import event_item


def to_event(tenant_id: str, item: EventItem) -> Event:
    return Event(id=item.event_id, tenant_id=tenant_id, type=item.type, at=int(item.at), data=dict(item.data or {}))


def emit(event: Event) -> bool:
    """Write ``event`` on its own; True if it is new, False if an event with its id was already written."""
    item = event_item(event)
    try:
        with busy_as_store_busy():
            with_retries(lambda: item.save(condition=EventItem.pk.does_not_exist()))
    except PutError as exc:
        if cause_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DynamoEventLog:
    """The ``EventLog`` of ``tollgate.events.rules``."""

    def page(self, tenant_id: str, *, since: int, type: str | None, cursor: str | None, limit: int) -> EventPage:
        return list_events(tenant_id, since=since, type=type, cursor=cursor, limit=limit)


def list_events(
    tenant_id: str, *, since: int, type: str | None = None, cursor: str | None = None, limit: int = 50
) -> EventPage:
    """The tenant's events at or after ``since``, newest first, of one ``type`` when given."""
    start_key = None
    if cursor:
        sk = text_at(CURSORS.open(EVENT_CURSOR, tenant_id, cursor), "sk")
        if sk < keys.event_sk_from(since):  # DynamoDB refuses a start key outside the key condition
            raise InvalidField("cursor", "has aged out of the 30 days this listing covers: list again without it")
        start_key = {"pk": {"S": keys.events_pk(tenant_id)}, "sk": {"S": sk}}
    with busy_as_store_busy():
        result = EventItem.query(
            keys.events_pk(tenant_id),
            EventItem.sk >= keys.event_sk_from(since),
            filter_condition=(EventItem.type == type) if type else None,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=start_key,
        )
        events = [to_event(tenant_id, item) for item in result]
        last = result.last_evaluated_key
    next_cursor = CURSORS.seal(EVENT_CURSOR, tenant_id, {"sk": last["sk"]["S"]}) if last else None
    return EventPage(events, next_cursor)
