"""``Tollgate``: the one object a program creates. Thread-safe, no global state, timeouts on by default."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from tollgate_sdk.actions import ActionRequest, PollBackoff, ask
from tollgate_sdk.allowances import DEFAULT_TTL_S, Allowance
from tollgate_sdk.api import ApiCaller
from tollgate_sdk.background import Background
from tollgate_sdk.clock import Clock, SystemClock
from tollgate_sdk.errors import APIError
from tollgate_sdk.leases import Lease
from tollgate_sdk.receipt_store import ReceiptStore
from tollgate_sdk.receipts import KeySet, ReceiptVerifier
from tollgate_sdk.retries import Backoff
from tollgate_sdk.transport import Transport, Urllib3Transport
from tollgate_sdk.validation import JWKS_PATH, Validation, Validator

CONSUME_PATH = "/v1/consume"


@dataclass(frozen=True)
class Consumption:
    """What one consume charged. ``idempotency_key`` is the key every attempt of the call carried."""

    charged: int
    entry_id: str
    idempotency_key: str


class Tollgate:
    """The vendor SDK's client.

    ``timeout_s`` bounds each read, ``connect_timeout_s`` each connection; ``deadline_s`` bounds a whole
    call, retries and waits included; ``max_retries`` is how many times one call is sent again after no
    answer, a 429 or a 5xx. ``receipt_cache_path`` keeps verified receipts in a file for programs that
    restart offline; ``jwks`` pins the service's signing keys (then no fetched key is trusted).

    One background thread per client (``tollgate-background``) keeps every open lease alive and renews
    every open allowance; it runs while any is open, and ``close()`` stops it.
    """

    def __init__(
        self,
        license_key: str,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        max_retries: int = 3,
        deadline_s: float = 30.0,
        region: str | None = None,
        max_clock_drift_s: float = 120.0,
        receipt_cache_path: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, so one shared default is safe
        transport: Transport | None = None,
        clock: Clock | None = None,
        new_idempotency_key: Callable[[], str] = lambda: str(uuid.uuid4()),
        action_poll: PollBackoff = PollBackoff(),  # noqa: B008 - frozen, so one shared default is safe
    ) -> None:
        self._action_poll = action_poll
        self._region = region
        self._new_key = new_idempotency_key
        self._api = ApiCaller(
            license_key,
            base_url,
            transport if transport is not None else Urllib3Transport(),
            clock if clock is not None else SystemClock(),
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            max_retries=max_retries,
            deadline_s=deadline_s,
            backoff=backoff,
            region=region,
        )
        self._background = Background()
        self._store = ReceiptStore(receipt_cache_path)
        self._keys = KeySet(lambda: self._api.call("GET", JWKS_PATH), pinned=jwks)
        if self._store.jwks is not None:
            self._keys.load(self._store.jwks)
        self._validator = Validator(
            self._api,
            license_key,
            ReceiptVerifier(self._keys, max_clock_drift_s),
            self._store,
            max_clock_drift_s,
            lambda: self._keys.document,
        )

    def validate(
        self,
        feature: str | None = None,
        region: str | None = None,
        *,
        project: str | None = None,
        fingerprint: str | None = None,
    ) -> Validation:
        """Is the license key valid (for this feature, region, project)? Online, from a receipt verified
        against the JWKS; with the service unreachable, from the last receipt for the same request while
        it lasts. Raises ``ClockTampered`` for a clock set back, ``Unavailable`` when offline with no
        receipt left. ``.raise_if_invalid()`` turns a refusal into its typed error."""
        return self._validator.validate(
            {
                "feature": feature,
                "region": region if region is not None else self._region,
                "project": project,
                "fingerprint": fingerprint,
            }
        )

    def consume(self, feature: str, quantity: int = 1, *, idempotency_key: str | None = None) -> Consumption:
        """Charge ``quantity`` uses of ``feature``, exactly once: one Idempotency-Key for this call, sent on
        every retry, so an answer lost after the debit committed is never charged twice."""
        key = idempotency_key if idempotency_key is not None else self._new_key()
        answer = self._api.call(
            "POST",
            CONSUME_PATH,
            {"feature": feature, "quantity": quantity},
            headers={"Idempotency-Key": key, "Prefer": "return=minimal"},
        )
        if not isinstance(answer, dict) or "charged" not in answer:
            raise APIError("the service answered a consume without `charged`")
        return Consumption(charged=int(answer["charged"]), entry_id=str(answer.get("entry_id")), idempotency_key=key)

    def lease(
        self,
        feature: str,
        duration_s: int,
        *,
        on_lost: Callable[[Lease], None] | None = None,
        heartbeat_interval_s: float | None = None,
    ) -> Lease:
        """``with tg.lease("build", 3600) as lease:`` holds tokens while the block runs, heartbeats from the
        client's background loop at the server's pace (or ``heartbeat_interval_s``), and checks in on exit.
        ``lease.lost`` is set (and ``on_lost`` called) if the lease ends under the program."""
        return Lease(
            self._api,
            feature,
            duration_s,
            heartbeat_interval_s=heartbeat_interval_s,
            on_lost=on_lost,
            idempotency_key=self._new_key(),
            background=self._background,
        )

    def allowance(
        self,
        feature: str,
        block: int,
        *,
        ttl_s: int = DEFAULT_TTL_S,
        renew_below: float = 0.1,
        wait_s: float = 5.0,
    ) -> Allowance:
        """``with tg.allowance("build", block=100) as a: a.spend()`` holds ``block`` tokens and spends them in
        process (a lock and a counter per ``spend``); the client's background loop reports the uses and takes
        the next block in one request when fewer than ``renew_below`` of the block's uses are left or the hold's end
        (``ttl_s``) nears; closing (or the interpreter's exit) reports the last count and releases the rest.
        A ``spend`` past the held block waits up to ``wait_s`` for the renewal, then raises its error
        (``InsufficientTokens``…) or ``AllowanceExhausted``."""
        return Allowance(
            self._api,
            feature,
            block,
            ttl_s=ttl_s,
            renew_below=renew_below,
            wait_s=wait_s,
            idempotency_key=self._new_key(),
            background=self._background,
        )

    def request_action(
        self,
        action: str,
        *,
        feature: str | None = None,
        quantity: int | None = None,
        project_id: str | None = None,
        environment: str | None = None,
        region: str | None = None,
        reason: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        break_glass: bool = False,
        idempotency_key: str | None = None,
    ) -> ActionRequest:
        """Ask the tenant's policy before acting (``POST /v1/actions``). Returns the action, ``approved`` or
        ``pending``: ``wait()`` blocks (polling with backoff) until approvers decide, ``redeem()`` spends an
        approved one once, ``cancel()`` gives its held tokens back. Raises ``ActionDenied`` (``rule_id``),
        ``InsufficientTokens``, or the error of its code. One Idempotency-Key per call, reused on retries."""
        body: dict[str, Any] = {"action": action}
        optional = {
            "feature": feature,
            "quantity": quantity,
            "project_id": project_id,
            "environment": environment,
            "region": region,
            "reason": reason,
            "attributes": dict(attributes) if attributes else None,
        }
        body.update({name: value for name, value in optional.items() if value is not None})
        if break_glass:
            body["break_glass"] = True
        key = idempotency_key if idempotency_key is not None else self._new_key()
        return ask(self._api, self._new_key, body, key, self._action_poll)

    def close(self) -> None:
        """Stop the background loop (open leases stop heartbeating, open allowances stop renewing: close
        them first) and release pooled connections. A lease or allowance opened later starts the loop
        again."""
        self._background.close()
        self._api.close()

    def __enter__(self) -> Tollgate:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
