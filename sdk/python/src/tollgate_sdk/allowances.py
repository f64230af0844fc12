"""``allowance``: hold a block of tokens and spend it in process, one pool write per block.

``with tg.allowance("build", block=100) as a: a.spend()`` opens an allowance (``POST /v1/allowances``, a
hold of ``block`` tokens). ``spend`` only counts, under a lock: no request. When fewer than ``renew_below``
of the block's uses are left, or the hold's end comes near, the client's background loop (one thread for
every lease and allowance of the client: ``tollgate_sdk.background``) reports the uses spent so far and
takes the next block in ONE request (``POST /v1/allowances/{id}/settle {used, renew: true}``).
Reports are cumulative (the uses since the allowance opened), so a report whose answer was lost is simply
sent again by the client's retry layer and charges nothing twice. ``close`` (the end of the ``with`` block,
or the interpreter's exit) reports the last count with ``final``, which releases the rest of the hold.

The local count never passes what the server holds for this allowance (``capacity``: the uses reported
plus the uses the remaining hold pays for), so the server never refuses a report. A ``spend`` that would
pass it waits (at most ``wait_s``) for the renewal; if the renewal failed it raises that error
(``InsufficientTokens``, ``ProjectBudgetExhausted``, ``Unavailable``…), else ``AllowanceExhausted``.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import threading
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from tollgate_sdk.api import ApiCaller
from tollgate_sdk.background import Background, Job
from tollgate_sdk.errors import (
    AllowanceEnded,
    AllowanceExhausted,
    APIError,
    Conflict,
    Forbidden,
    NotFound,
    PaymentRequired,
    TollgateError,
    Unauthenticated,
)
from tollgate_sdk.results import AllowanceRecord

ALLOWANCES_PATH = "/v1/allowances"
DEFAULT_TTL_S = 300  # the server's default; it accepts 10 … 3600
_UNLIMITED = 1 << 62  # the capacity of a feature that costs nothing per use
_POLL_S = 1.0  # the background loop looks at the clock at least this often for an open allowance
_RETRY_PAUSE_S = 1.0  # after a failed renewal, before the next attempt


class Allowance:
    """A context manager; use ``Tollgate.allowance``. ``spend`` is safe to call from any number of threads.

    ``block`` is in tokens (the API's ``tokens``): a block pays for ``block // cost_per_use`` uses.
    ``renew_below`` is the fraction of a block's uses left that starts a renewal; ``wait_s`` bounds how long
    ``spend`` waits for one when the block is spent; ``ttl_s`` is the hold's life, renewed ahead of its end
    (at four fifths of it, or 5 s before it, whichever is earlier).
    """

    def __init__(
        self,
        api: ApiCaller,
        feature: str,
        block: int,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        renew_below: float = 0.1,
        wait_s: float = 5.0,
        idempotency_key: str | None = None,
        background: Background | None = None,
    ) -> None:
        if block < 1:
            raise ValueError("block must be at least 1 token")
        if not 0.0 <= renew_below < 1.0:
            raise ValueError("renew_below is a fraction of the block, from 0 to below 1")
        if wait_s < 0:
            raise ValueError("wait_s must be >= 0")
        self._api = api
        self._background = background if background is not None else Background()
        self.feature = feature
        self.block = block
        self.ttl_s = ttl_s
        self._renew_below = renew_below
        self.wait_s = wait_s
        self.idempotency_key = idempotency_key or str(uuid.uuid4())
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._spent = 0  # uses spent in this process since the allowance opened
        self._capacity = 0  # uses the server holds for: reported + what the hold pays for
        self._low_mark = -1  # spending past it asks for a renewal; -1 until opened and once ended
        self._uses_per_block = 0
        self._renew_wanted = False
        self._renew_by = 0.0  # monotonic: renew ahead of the hold's end
        self._failure: TollgateError | None = None  # the last renewal's error, while no renewal succeeded since
        self._ended: TollgateError | None = None  # set once no more can be spent
        self._state: Mapping[str, Any] = {}  # the server's last answer, as sent
        self._record: AllowanceRecord | None = None  # the same, typed
        self._job: Job | None = None
        self._retry_at: float | None = None  # time.monotonic(): after a failed renewal, not before this
        self._closed = False
        self._over = False  # the server ended it, or the final report got through: nothing left to report
        self.reports = 0  # requests sent (open and settlements, retries included): each is one pool write

    # -- the hot path ---------------------------------------------------------------------------------------
    def spend(self, uses: int = 1) -> None:
        """Count ``uses`` against the held block. Cheap (a lock and an addition) until the block runs low."""
        if uses >= 1:
            with self._lock:
                spent = self._spent + uses
                if spent <= self._low_mark:
                    self._spent = spent
                    return
        self._spend_slowly(uses)

    def _spend_slowly(self, uses: int) -> None:
        if not isinstance(uses, int) or uses < 1:
            raise ValueError("uses must be a positive integer")
        if self._uses_per_block and uses > self._uses_per_block:
            raise ValueError(f"{uses} uses are more than one block holds ({self._uses_per_block})")
        give_up = time.monotonic() + self.wait_s
        with self._changed:
            while True:
                if self._ended is not None:
                    raise self._ended
                spent = self._spent + uses
                if spent <= self._capacity:
                    self._spent = spent
                    if spent > self._low_mark:  # a waiter served by the renewal it waited for asks for no more
                        self._want_renewal()
                    return
                if self._failure is not None:
                    raise self._failure
                self._want_renewal()
                left = give_up - time.monotonic()
                if left <= 0:
                    raise AllowanceExhausted(
                        f"allowance {self._state.get('id')}: the block is spent and no renewal arrived "
                        f"within {self.wait_s} s"
                    )
                self._changed.wait(left)

    def _want_renewal(self) -> None:  # with the lock held
        if not self._renew_wanted:
            self._renew_wanted = True
            self._changed.notify_all()
            self._background.wake()

    # -- what the program reads -----------------------------------------------------------------------------
    @property
    def id(self) -> str:
        with self._lock:
            return str(self._state.get("id"))

    @property
    def spent(self) -> int:
        """Uses spent in this process so far."""
        with self._lock:
            return self._spent

    @property
    def record(self) -> AllowanceRecord:
        """The allowance as the server last described it (``used``, ``held``, ``charged``, ``status``,
        ``expires_at``…): an ``AllowanceRecord``."""
        with self._lock:
            if self._record is None:
                raise RuntimeError("the allowance is not open yet: use it as a context manager")
            return self._record

    @property
    def error(self) -> TollgateError | None:
        """Why spending stopped (the allowance ended), or the last renewal's error while it stands."""
        with self._lock:
            return self._ended or self._failure

    # -- the context manager --------------------------------------------------------------------------------
    def __enter__(self) -> Allowance:
        self.open()
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

    def open(self) -> None:
        """Hold the first block, hand the renewals to the background loop, and settle at the interpreter's exit."""
        sent_at = self._api.clock.monotonic()
        self.reports += 1
        answer = self._api.call(
            "POST",
            ALLOWANCES_PATH,
            {"feature": self.feature, "tokens": self.block, "ttl_s": self.ttl_s},
            headers={"Idempotency-Key": self.idempotency_key},
        )
        with self._lock:
            self._apply(answer, sent_at)
        atexit.register(self._at_exit)
        self._job = Job(f"allowance {self.id}", self._due_in, self._renew)
        self._background.add(self._job)

    def close(self) -> None:
        """Stop renewing and report the last count with ``final`` (the rest of the hold is released). Safe
        to call twice; spending afterwards raises ``AllowanceEnded``."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            self._changed.notify_all()
        atexit.unregister(self._at_exit)
        if self._job is not None:
            self._background.remove(self._job)  # returns once no renewal of this allowance is in flight
        with self._changed:
            used = self._spent
            self._low_mark = self._capacity = -1
            over = self._over or not self._state
            self._ended = self._ended or AllowanceEnded(f"allowance {self._state.get('id')} was closed")
            self._changed.notify_all()
        if over:
            return
        self.reports += 1
        answer = self._api.call("POST", f"{ALLOWANCES_PATH}/{self.id}/settle", {"used": used, "final": True})
        with self._lock:
            self._remember(answer)
            self._over = True

    def _at_exit(self) -> None:
        with contextlib.suppress(TollgateError):  # nobody is left to tell; an unsettled hold is charged at its end
            self.close()

    # -- the renewal, a job of the background loop ----------------------------------------------------------
    def _due_in(self) -> float | None:
        """Seconds until a renewal is due: now when the block runs low, else at ``_renew_by`` (looked at
        every ``_POLL_S`` at least, as the clock is the client's); after a failure, not before the pause."""
        with self._lock:
            if self._closed or self._over:
                return None
            if self._retry_at is not None:
                pause = self._retry_at - time.monotonic()
                if pause > 0:
                    return pause
            if self._renew_wanted:
                return 0.0
            return min(_POLL_S, self._renew_by - self._api.clock.monotonic())

    def _renew(self) -> bool:
        """Report the uses so far and take the next block, in one request; False once nothing is left to do."""
        clock = self._api.clock
        with self._changed:
            if self._closed or self._over:
                return False
            used = self._spent
            by_time = not self._renew_wanted
        sent_at = clock.monotonic()
        try:
            self.reports += 1
            answer = self._api.call("POST", f"{ALLOWANCES_PATH}/{self.id}/settle", {"used": used, "renew": True})
        except (Conflict, NotFound, Unauthenticated, Forbidden) as over:
            self._end(over, over=True)
            return False
        except APIError as failed:  # unavailable, rate limited, or 402: the current hold stands
            with self._changed:
                self._failure = failed
                self._changed.notify_all()
            if by_time and isinstance(failed, PaymentRequired):
                self._settle_before_the_end()
                return False
            self._retry_at = time.monotonic() + _RETRY_PAUSE_S
            return True
        with self._changed:
            self._retry_at = None
            self._apply(answer, sent_at)
            return not self._over

    def _settle_before_the_end(self) -> None:
        """The hold cannot be renewed and its end is near: report what was spent, release the rest."""
        with self._changed:
            used = self._spent
            self._low_mark = self._capacity = -1
        try:
            self.reports += 1
            answer = self._api.call("POST", f"{ALLOWANCES_PATH}/{self.id}/settle", {"used": used, "final": True})
        except (Conflict, NotFound, Unauthenticated, Forbidden) as over:
            self._end(over, over=True)
            return
        except APIError as failed:
            self._end(failed, over=False)  # close() reports again
            return
        with self._changed:
            self._remember(answer)
            self._over = True
            self._ended = self._failure or AllowanceEnded(f"allowance {self._state.get('id')} could not be renewed")
            self._changed.notify_all()

    def _end(self, error: TollgateError, *, over: bool) -> None:
        with self._changed:
            self._ended = error
            self._over = over
            self._low_mark = self._capacity = -1
            self._changed.notify_all()

    # -- the server's answers (with the lock held) ---------------------------------------------------------
    def _apply(self, answer: Any, sent_at: float) -> None:
        allowance = self._remember(answer)
        if allowance.get("status") != "open":
            self._over = True
            self._ended = AllowanceEnded(f"allowance {allowance.get('id')} is {allowance.get('status')}")
            self._low_mark = self._capacity = -1
            self._changed.notify_all()
            return
        cost = int(allowance["cost_per_use"])
        held, used, ttl_s = int(allowance["held"]), int(allowance["used"]), int(allowance["ttl_s"])
        self._uses_per_block = int(allowance["block"]) // cost if cost else _UNLIMITED
        self._capacity = used + held // cost if cost else _UNLIMITED
        self._low_mark = self._capacity - max(1, math.ceil(self._renew_below * self._uses_per_block))
        self._renew_wanted = self._spent > self._low_mark
        self._renew_by = sent_at + min(ttl_s * 0.8, ttl_s - 5.0)  # from when it was sent: no clock skew
        self._failure = None
        self._changed.notify_all()

    def _remember(self, answer: Any) -> Mapping[str, Any]:
        allowance = answer.get("allowance") if isinstance(answer, dict) else None
        if not isinstance(allowance, dict):
            raise APIError("the service answered without an allowance")
        self._record = AllowanceRecord.from_api(allowance)
        self._state = allowance
        return allowance
