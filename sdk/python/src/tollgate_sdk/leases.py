"""``lease``: hold tokens while a block of code runs, heartbeat from the client's background loop, check in
on exit.

The server sets the pace (``heartbeat_interval_s``, a third of the lease's duration: docs/leases.md), so
missing a heartbeat or two costs nothing. The heartbeats are a job of the client's one background thread
(``tollgate_sdk.background``), which keeps every open lease and allowance of the client alive. A lease is
*lost* when the server says it is over (expired, closed, unknown, or the key or tenant refused), or when no
heartbeat got through before its end: then ``lost`` is set, ``on_lost`` is called (from the background
thread) and heartbeats stop. Check-in on exit happens in every case and is what charges the lease.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime
from types import TracebackType
from typing import Any, Callable

from tollgate_sdk.api import ApiCaller
from tollgate_sdk.background import Background, Job
from tollgate_sdk.errors import (
    APIError,
    Conflict,
    Forbidden,
    LeaseExpired,
    NotFound,
    TollgateError,
    Unauthenticated,
)
from tollgate_sdk.results import LeaseRecord

LEASES_PATH = "/v1/leases"
_MIN_HEARTBEAT_DEADLINE_S = 5.0


class Lease:
    """A context manager; use ``Tollgate.lease``. Safe to read from any thread while it runs."""

    def __init__(
        self,
        api: ApiCaller,
        feature: str,
        duration_s: int,
        *,
        heartbeat_interval_s: float | None = None,
        on_lost: Callable[[Lease], None] | None = None,
        idempotency_key: str | None = None,
        background: Background | None = None,
    ) -> None:
        self._api = api
        self._background = background if background is not None else Background()
        self.feature = feature
        self.duration_s = duration_s
        self._interval_override = heartbeat_interval_s
        self._on_lost = on_lost
        self.idempotency_key = idempotency_key or str(uuid.uuid4())
        self.lost = threading.Event()
        self.lost_error: TollgateError | None = None
        self._lock = threading.Lock()
        self._state: LeaseRecord | None = None
        self._job: Job | None = None
        self._next_beat = 0.0  # time.monotonic() of the next heartbeat
        self.heartbeats = 0

    # -- what the program reads ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def expires_at(self) -> datetime | None:
        """When the lease ends unless a heartbeat extends it (aware, UTC)."""
        return self.record.expires_at

    @property
    def charged(self) -> int | None:
        return self.record.charged

    @property
    def heartbeat_interval_s(self) -> float:
        if self._interval_override is not None:
            return self._interval_override
        return float(self.record.heartbeat_interval_s)

    @property
    def record(self) -> LeaseRecord:
        """The lease as the server last described it (docs/leases.md); a ``LeaseRecord``."""
        with self._lock:
            if self._state is None:
                raise RuntimeError("the lease is not open yet: use it as a context manager")
            return self._state

    def raise_if_lost(self) -> None:
        if self.lost.is_set():
            raise self.lost_error or LeaseExpired("the lease was lost")

    # -- the context manager ------------------------------------------------------------------------------
    def __enter__(self) -> Lease:
        answer = self._api.call(
            "POST",
            LEASES_PATH,
            {"feature": self.feature, "duration_s": self.duration_s},
            headers={"Idempotency-Key": self.idempotency_key},
        )
        self._remember(answer)
        self._next_beat = time.monotonic() + self.heartbeat_interval_s
        self._job = Job(f"lease {self.id}", self._due_in, self._beat)
        self._background.add(self._job)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except TollgateError:
            if exc_type is None:
                raise  # an error already in flight is the one the program should see

    def close(self) -> None:
        """Stop heartbeating and check the lease in (charged by the hour started). Safe to call twice."""
        if self._job is not None:
            self._background.remove(self._job)  # returns once no heartbeat of this lease is in flight
        self._remember(self._api.call("DELETE", f"{LEASES_PATH}/{self.id}"))

    # -- the heartbeat, a job of the background loop ------------------------------------------------------
    def _due_in(self) -> float:
        return self._next_beat - time.monotonic()

    def _beat(self) -> bool:
        """One heartbeat; False once the lease is lost (no more heartbeats)."""
        interval = self.heartbeat_interval_s
        try:
            answer = self._api.call(
                "POST", f"{LEASES_PATH}/{self.id}/heartbeat", {}, deadline_s=max(interval, _MIN_HEARTBEAT_DEADLINE_S)
            )
        except (Conflict, NotFound, Unauthenticated, Forbidden) as over:
            self._lose(over)
            return False
        except APIError as transient:  # unavailable, rate limited, or 402 (the old end stands)
            end = self.expires_at
            if end is not None and self._api.clock.now() >= end.timestamp():
                self._lose(LeaseExpired(f"no heartbeat got through before the lease's end ({transient})"))
                return False
        else:
            self._remember(answer)
            with self._lock:
                self.heartbeats += 1
        self._next_beat = time.monotonic() + interval
        return True

    def _lose(self, error: TollgateError) -> None:
        self.lost_error = error
        self.lost.set()
        if self._on_lost is not None:
            self._on_lost(self)

    def _remember(self, answer: Any) -> None:
        lease = answer.get("lease") if isinstance(answer, dict) else None
        if not isinstance(lease, dict):
            raise APIError("the service answered without a lease")
        record = LeaseRecord.from_api(lease)
        with self._lock:
            self._state = record
