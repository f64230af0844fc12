"""The stand-in's in-memory account: every object by id, events with their frozen payloads, replies kept
for idempotency keys, and a log of webhook deliveries. One re-entrant lock guards all of it; callers hold
``store.lock`` across a read-modify-write and release it before any webhook leaves the process."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import objects
from .errors import no_such

JSON = dict[str, Any]
Clock = Callable[[], float]


@dataclass(frozen=True)
class Replay:
    """A reply kept for an ``Idempotency-Key``: the request it answered and what was answered."""

    fingerprint: str
    status: int
    body: JSON


@dataclass
class SessionExtras:
    """What a Checkout Session keeps that its API object does not show."""

    line_items: list[JSON]
    intent_description: str | None = None
    intent_metadata: dict[str, str] = field(default_factory=dict)


class Store:
    def __init__(self, *, clock: Clock = time.time, webhooks_enabled: bool = True) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.pending_webhooks = 1 if webhooks_enabled else 0
        self._objects: dict[str, JSON] = {}
        self._by_kind: dict[str, list[str]] = {}
        self.sessions: dict[str, SessionExtras] = {}
        self.payloads: dict[str, bytes] = {}
        self.replays: dict[str, Replay] = {}
        self.deliveries: list[JSON] = []
        self._journal: list[str] | None = None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; if the block raises, forget every object it added (handlers validate before
        they change existing objects, so additions are all there is to undo)."""
        with self.lock:
            outer, self._journal = self._journal, []
            try:
                yield
            except BaseException:
                self._forget(self._journal)
                self._journal = outer
                raise
            added, self._journal = self._journal, outer
            if outer is not None:
                outer.extend(added)

    def _forget(self, added: list[str]) -> None:
        for object_id in reversed(added):
            obj = self._objects.pop(object_id)
            self._by_kind[obj["object"]].remove(object_id)
            self.payloads.pop(object_id, None)
            self.sessions.pop(object_id, None)

    def now(self) -> int:
        return int(self.clock())

    def add(self, obj: JSON) -> JSON:
        with self.lock:
            self._objects[obj["id"]] = obj
            self._by_kind.setdefault(obj["object"], []).append(obj["id"])
            if self._journal is not None:
                self._journal.append(obj["id"])
            return obj

    def find(self, object_id: str) -> JSON | None:
        with self.lock:
            return self._objects.get(object_id)

    def get(self, kind: str, object_id: str, *, param: str | None = None) -> JSON:
        """The stored object (not a copy); ``resource_missing`` if there is none of that kind."""
        with self.lock:
            obj = self._objects.get(object_id)
            if obj is None or obj["object"] != kind:
                raise no_such(kind, object_id, param)
            return obj

    def newest_first(self, kind: str) -> list[JSON]:
        with self.lock:
            return [self._objects[object_id] for object_id in reversed(self._by_kind.get(kind, []))]

    def emit(
        self,
        event_type: str,
        data_object: JSON,
        *,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> JSON:
        """Record an event holding a snapshot of ``data_object``; its webhook payload is fixed now."""
        with self.lock:
            event = objects.event(
                created=self.now(),
                event_type=event_type,
                data_object=copy.deepcopy(data_object),
                pending_webhooks=self.pending_webhooks,
                request_id=request_id,
                idempotency_key=idempotency_key,
            )
            self.add(event)
            self.payloads[event["id"]] = json.dumps(event, indent=2).encode("utf-8")
            return event
