"""The tenant's policy as actions need it: an ask evaluated by ``tollgate.approvals.rules.evaluate`` and the
decision put in the action's own terms (``Verdict``; the rule's approval as ``ApprovalTerms``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tollgate.approvals.rules import ActionRequest, Policy, Principals, evaluate
from tollgate.approvals.rules_actions import DEFAULT_GRANT_TTL_S, ApprovalTerms, Approvers
from tollgate.approvals.service import Ask, Verdict
from tollgate.core.models import Principal


def _approvers(principals: Principals) -> Approvers:
    return Approvers(frozenset(principals.roles), frozenset(principals.api_key_ids))


def action_request(caller: Principal, ask: Ask, tokens: int) -> ActionRequest:
    return ActionRequest(
        action=ask.action,
        key_id=caller.key_id,
        key_kind="license" if caller.license_key is not None else "api",
        role=None if caller.role is None else caller.role.value,
        feature=ask.feature,
        tokens=tokens,
        project_id=ask.project_id,
        environment=ask.environment,
        region=ask.region,
        attributes=dict(ask.attributes),
    )


class PolicyJudge:
    """``read_policy(tenant_id)`` gives the tenant's current policy (version 0, allow, when it has none) and
    whatever the store read with it (handed back to the store as ``Verdict.context``)."""

    def __init__(self, read_policy: Callable[[str], tuple[Policy, Any]]) -> None:
        self._read_policy = read_policy

    def judge(self, caller: Principal, ask: Ask, tokens: int, now: int) -> Verdict:
        policy, context = self._read_policy(caller.tenant_id)
        decision = evaluate(policy, action_request(caller, ask, tokens), now)
        approval = decision.approval
        terms = None
        if approval is not None:
            terms = ApprovalTerms(
                approvers=_approvers(approval.approvers),
                quorum=approval.quorum,
                timeout_s=approval.timeout_s,
                grant_ttl_s=approval.grant_ttl_s,
                escalate_after_s=approval.escalate_after_s,
                escalate_to=None if approval.escalate_to is None else _approvers(approval.escalate_to),
            )
        return Verdict(
            effect=decision.effect.value,
            rule_id=decision.rule_id,
            policy_version=decision.policy_version,
            terms=terms,
            break_glass_allowed=decision.break_glass_allowed,
            grant_ttl_s=DEFAULT_GRANT_TTL_S if approval is None else approval.grant_ttl_s,
            context=context,
        )
