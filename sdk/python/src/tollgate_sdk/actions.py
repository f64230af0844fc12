"""Just-in-time approvals: ask the tenant's policy before acting (``POST /v1/actions``), wait for approvers,
then spend the approved tokens once (``POST /v1/consume`` with the action's id).

``Tollgate.request_action`` answers at once: ``approved`` (an allow rule, or break-glass), ``pending`` (sent
to approvers), or it raises ``ActionDenied`` (``rule_id`` names the rule) or ``InsufficientTokens`` (the
tokens could not be held). ``ApprovedAction.wait`` polls with backoff and jitter until the action is no
longer pending, or the deadline passes; ``redeem`` spends it (once: the same Idempotency-Key on every
retry); ``cancel`` gives the held tokens back.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from tollgate_sdk.api import ApiCaller
from tollgate_sdk.errors import (
    ActionDenied,
    ActionExpired,
    ActionNotApproved,
    APIError,
    ApprovalTimeout,
)
from tollgate_sdk.results import ActionRecord, Redemption

ACTIONS_PATH = "/v1/actions"
CONSUME_PATH = "/v1/consume"
PENDING = "pending"
APPROVED = "approved"


@dataclass(frozen=True)
class PollBackoff:
    """How ``wait`` polls: from ``first_s``, times ``factor`` each poll, at most ``cap_s``, with jitter
    (each wait drawn between half and all of it), never past the deadline."""

    first_s: float = 1.0
    factor: float = 1.6
    cap_s: float = 15.0

    def delay(self, poll: int, random_unit: float) -> float:
        step = min(self.cap_s, self.first_s * (self.factor**poll))
        return step * (0.5 + random_unit / 2)


class ActionRequest:
    """One action asked for. ``status`` is the last status the service gave: ``pending``, ``approved``,
    ``denied``, ``expired``, ``cancelled`` or ``redeemed``. Thread-safe."""

    def __init__(
        self,
        api: ApiCaller,
        view: Mapping[str, Any],
        new_key: Callable[[], str],
        poll: PollBackoff = PollBackoff(),
    ) -> None:
        self._api = api
        self._new_key = new_key
        self._poll = poll
        self._lock = threading.Lock()
        self._view: dict[str, Any] = dict(view)
        self._redeem_key: str | None = None

    # what the service said last
    @property
    def id(self) -> str:
        return str(self._view["id"])

    @property
    def status(self) -> str:
        with self._lock:
            return str(self._view["status"])

    @property
    def approved(self) -> bool:
        return self.status == APPROVED

    @property
    def view(self) -> ActionRecord:
        """The action as last read (``rule_id``, ``quorum``, ``approvals``, ``expires_at``,
        ``grant_expires_at``, ``reviews``…): an ``ActionRecord``, its times aware UTC datetimes."""
        with self._lock:
            return ActionRecord.from_api(self._view)

    record = view  # the name leases and allowances use

    def refresh(self) -> str:
        """Read the action again; its status."""
        answer = self._api.call("GET", f"{ACTIONS_PATH}/{self.id}")
        self._take(answer)
        return self.status

    def wait(self, timeout_s: float | None = None) -> str:
        """Block until the action is no longer pending, polling with backoff and jitter; returns its status.
        ``timeout_s`` (default: until the action's own ``expires_at``) bounds the wait; past it, the action
        still pending, raises ``ApprovalTimeout`` (the action itself stays pending: ``cancel`` it or wait
        again)."""
        clock = self._api.clock
        if timeout_s is None:
            expires_at = self.view.expires_at
            left = expires_at.timestamp() - clock.now() if expires_at is not None else None
            timeout_s = max(0.0, left) + 5.0 if left is not None else 3600.0
        deadline = clock.monotonic() + timeout_s
        poll = 0
        while self.status == PENDING:
            wait = self._poll.delay(poll, clock.random())
            left = deadline - clock.monotonic()
            if left <= 0:
                raise ApprovalTimeout(f"action {self.id} is still pending after {timeout_s:.0f} s")
            clock.sleep(min(wait, left))
            poll += 1
            self.refresh()
        return self.status

    def raise_if_not_approved(self) -> None:
        """Raise the typed error of an action that was not approved (``ActionDenied``, ``ActionExpired``,
        ``ActionNotApproved``); nothing when it is approved."""
        status = self.status
        if status == APPROVED:
            return
        message = f"action {self.id} is {status}"
        if status == "denied":
            raise ActionDenied(message, status=403, code="ACTION_DENIED", rule_id=self._view.get("rule_id"))
        if status == "expired":
            raise ActionExpired(message, status=409, code="ACTION_EXPIRED")
        if status == PENDING:
            raise ApprovalTimeout(message)
        raise ActionNotApproved(message, status=409, code="ACTION_NOT_APPROVED")

    def redeem(self, quantity: int | None = None) -> Redemption:
        """Spend the approved action once (``POST /v1/consume`` with its id): ``quantity`` uses of its
        feature, at most what was approved (all of it by default). Charged from the hold; the rest is
        released. One Idempotency-Key per action, reused on every retry and every call. Returns a
        ``Redemption`` (``charged``, ``entry_id``, ``action_id``, ``idempotency_key``)."""
        self.raise_if_not_approved()
        feature = self._view.get("feature")
        if feature is None:
            raise ValueError("this action names no feature: there is nothing to redeem")
        with self._lock:
            if self._redeem_key is None:
                self._redeem_key = self._new_key()
            key = self._redeem_key
        answer = self._api.call(
            "POST",
            CONSUME_PATH,
            {"feature": feature, "quantity": quantity or int(self._view.get("quantity") or 1), "action_id": self.id},
            headers={"Idempotency-Key": key, "Prefer": "return=minimal"},
        )
        if not isinstance(answer, dict) or "charged" not in answer:
            raise APIError("the service answered a redemption without `charged`")
        with self._lock:
            self._view["status"] = "redeemed"
        return Redemption(
            action_id=str(answer.get("action_id") or self.id),
            charged=int(answer["charged"]),
            entry_id=str(answer.get("entry_id")),
            idempotency_key=key,
            balance_after=None if answer.get("balance_after") is None else int(answer["balance_after"]),
        )

    def cancel(self) -> None:
        """Give up the action (``DELETE``): its held tokens go back to the pool."""
        self._take(self._api.call("DELETE", f"{ACTIONS_PATH}/{self.id}"))

    def _take(self, answer: Any) -> None:
        if not isinstance(answer, dict) or not isinstance(answer.get("action"), dict):
            raise APIError("the service answered without the action")
        with self._lock:
            self._view = dict(answer["action"])


def ask(
    api: ApiCaller,
    new_key: Callable[[], str],
    body: Mapping[str, Any],
    idempotency_key: str,
    poll: PollBackoff,
) -> ActionRequest:
    answer = api.call("POST", ACTIONS_PATH, body, headers={"Idempotency-Key": idempotency_key})
    if not isinstance(answer, dict) or not isinstance(answer.get("action"), dict):
        raise APIError("the service answered an action request without the action")
    return ActionRequest(api, answer["action"], new_key, poll)
