"""The tenant's policy on the spending routes: consume, leases and allowances are evaluated as the actions
``consume``, ``lease`` and ``allowance`` (SPEC.md, "Policy on the spending routes").

Consume stays one DynamoDB request: the policy comes from this container's cache (``PolicySource``), and
the spend's transaction carries a check that the stored policy is still the version evaluated. When it is
not, the write is refused whole (``PolicyChanged``), the policy is read again and the spend decided again,
so nothing is ever spent under a policy that has changed. A refusal is never taken from the cache: the
policy is read again first (a refusal costs a read; an allowed spend none).

A spend the policy refuses is answered 403 ``ACTION_DENIED`` or ``APPROVAL_REQUIRED`` with the rule id and
leaves a decision record (``spend.denied`` / ``spend.approval_required``); a retry of a request that was
once accepted (the same Idempotency-Key) gets its first answer back instead. Break-glass is for actions
(``POST /v1/actions``), not for a bare spend: a spend a rule requires approval for is redeemed through an
approved action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, Protocol, TypeVar

from tollgate.approvals.rules import ActionRequest, Decision, Effect, Policy, evaluate
from tollgate.approvals.rules_decisions import SPEND_APPROVAL_REQUIRED, SPEND_DENIED, DecisionDraft
from tollgate.core.clock import Clock
from tollgate.core.errors import ActionDenied, ApprovalRequired, PolicyChanged, StoreBusy
from tollgate.core.models import Principal

T = TypeVar("T")
ATTEMPTS = 3  # decisions per spend when the policy keeps changing under it


class PolicySource(Protocol):
    def policy(self, tenant_id: str, fresh: bool = False) -> Policy:
        """The tenant's policy: from this container's cache, or (``fresh``) read now."""
        ...


class RefusalLog(Protocol):
    def record(self, tenant_id: str, draft: DecisionDraft) -> None:
        """Append one decision record on its own."""
        ...


@dataclass(frozen=True)
class Admission:
    decision: Decision

    @property
    def allowed(self) -> bool:
        return self.decision.effect is Effect.ALLOW

    @property
    def version(self) -> int:
        return self.decision.policy_version


class SpendPolicy:
    def __init__(self, source: PolicySource, log: RefusalLog, clock: Clock, region: Callable[[], str]) -> None:
        self._source = source
        self._log = log
        self._clock = clock
        self._region = region

    def admit(self, caller: Principal, action: str, feature: str, tokens: int, fresh: bool = False) -> Admission:
        """The policy's decision on this spend; a refusal from the cache is checked against a fresh read."""
        request = spend_request(caller, action, feature, tokens, self._region())
        now = self._clock.now()
        decision = evaluate(self._source.policy(caller.tenant_id, fresh), request, now)
        if decision.effect is not Effect.ALLOW and not fresh:
            decision = evaluate(self._source.policy(caller.tenant_id, True), request, now)
        return Admission(decision)

    def refuse(self, caller: Principal, admission: Admission, action: str) -> NoReturn:
        """Record the refusal in the decision log and raise it (403 with the rule id)."""
        decision = admission.decision
        denied = decision.effect is not Effect.REQUIRE_APPROVAL
        rule = f"rule {decision.rule_id}" if decision.rule_id else "the policy's default"
        draft = DecisionDraft(
            at=self._clock.now(),
            actor=caller.actor,
            event=SPEND_DENIED if denied else SPEND_APPROVAL_REQUIRED,
            rule_id=decision.rule_id,
            policy_version=decision.policy_version,
        )
        self._log.record(caller.tenant_id, draft)
        if denied:
            why = f" (its condition failed: {decision.condition_error})" if decision.condition_error else ""
            raise ActionDenied(f"{rule} of the tenant's policy denies this {action}{why}", decision.rule_id)
        raise ApprovalRequired(
            f"{rule} of the tenant's policy requires approval for this {action}: request it with POST "
            "/v1/actions, then redeem the approved action",
            decision.rule_id,
        )


def spend_request(caller: Principal, action: str, feature: str, tokens: int, region: str) -> ActionRequest:
    key = caller.license_key
    return ActionRequest(
        action=action,
        key_id=caller.key_id,
        key_kind="license" if key is not None else "api",
        role=caller.role.value if caller.role is not None else None,
        feature=feature,
        tokens=tokens,
        project_id=key.project_id if key else None,
        environment=key.environment if key else None,
        region=region,
    )


def spend_under_policy(
    gate: SpendPolicy | None,
    caller: Principal,
    action: str,
    feature: str,
    tokens: int,
    write: Callable[[int | None], T],
    replayed: Callable[[], T | None],
) -> T:
    """Decide, then ``write(version)`` conditioned on that policy version; decide again when the policy
    changed under the write. On a refusal, ``replayed()`` may give the first answer to this request's
    Idempotency-Key (then that is the answer), else the refusal is recorded and raised. Without a gate
    (tests of the pool alone) the write is unconditioned."""
    if gate is None:
        return write(None)
    fresh = False
    for _ in range(ATTEMPTS):
        admission = gate.admit(caller, action, feature, tokens, fresh)
        if not admission.allowed:
            first = replayed()
            if first is not None:
                return first
            gate.refuse(caller, admission, action)
        try:
            return write(admission.version)
        except PolicyChanged:
            fresh = True
    raise StoreBusy("the tenant's policy kept changing; nothing was charged. Retry later.")
