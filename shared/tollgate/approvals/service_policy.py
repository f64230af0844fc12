"""The policy's portal side: read it, replace it (If-Match on its version), simulate a request.

A policy is checked in two steps: its shape by the request models (``tollgate.approvals.models_policy``), then
here what needs the tenant's records or the expression engine: every API key (and break-glass license key)
it names exists in the tenant and is not revoked, and every condition compiles. A refusal is a 422 that
names the rule by its index and id, and the field (``rules.2.condition``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tollgate.approvals.rules import ActionRequest, Decision, Policy, Principals, evaluate, policy_from_document
from tollgate.core import limits
from tollgate.core.clock import Clock
from tollgate.core.errors import InvalidField
from tollgate.core.models import Principal


class PolicyRepository(Protocol):
    def read(self, tenant_id: str) -> Policy: ...

    def put(self, tenant_id: str, document: dict[str, Any], if_match: int, now: int, actor: str) -> Policy:
        """Raises PreconditionFailed unless the stored version is ``if_match``."""
        ...


class KeyDirectory(Protocol):
    def api_key_ids(self, tenant_id: str) -> set[str]:
        """The tenant's API keys that are not revoked."""
        ...

    def license_key_ids(self, tenant_id: str) -> set[str]:
        """The tenant's license keys that are not revoked."""
        ...


class PolicyService:
    def __init__(self, policies: PolicyRepository, keys: KeyDirectory, clock: Clock) -> None:
        self._policies = policies
        self._keys = keys
        self._clock = clock

    def get(self, caller: Principal) -> Policy:
        return self._policies.read(caller.tenant_id)

    def put(self, caller: Principal, document: dict[str, Any], if_match: int) -> Policy:
        """Replace the policy, if it is still at version ``if_match``; the new one is ``if_match + 1``."""
        policy = policy_from_document(if_match, document)
        self._check_principals(caller.tenant_id, policy)
        self._check_conditions(policy)
        return self._policies.put(caller.tenant_id, document, if_match, self._clock.now(), caller.actor)

    def simulate(self, caller: Principal, request: ActionRequest, at: int | None = None) -> Decision:
        """What the current policy would decide on ``request``; nothing is written."""
        policy = self._policies.read(caller.tenant_id)
        return evaluate(policy, request, self._clock.now() if at is None else at)

    def _check_principals(self, tenant_id: str, policy: Policy) -> None:
        named = [
            (index, path, principals)
            for index, rule in enumerate(policy.rules)
            for path, principals in (
                ("approval.approvers", rule.approval.approvers if rule.approval else None),
                ("approval.escalate_to", rule.approval.escalate_to if rule.approval else None),
                ("break_glass", rule.break_glass),
            )
            if principals is not None
        ]
        if not any(p.api_key_ids or p.license_key_ids for _, _, p in named):
            return
        api_keys = self._keys.api_key_ids(tenant_id) if any(p.api_key_ids for _, _, p in named) else set()
        license_keys = self._keys.license_key_ids(tenant_id) if any(p.license_key_ids for _, _, p in named) else set()
        for index, path, principals in named:
            rule_id = policy.rules[index].id
            _known(principals, "api_key_ids", api_keys, f"rules.{index}.{path}", rule_id, "API key")
            _known(principals, "license_key_ids", license_keys, f"rules.{index}.{path}", rule_id, "license key")

    @staticmethod
    def _check_conditions(policy: Policy) -> None:
        if not policy.has_conditions:
            return
        from tollgate.approvals.rules_conditions import ConditionSyntaxError, compile_condition

        total = 0
        for index, rule in enumerate(policy.rules):
            if rule.condition is None:
                continue
            try:
                total += compile_condition(rule.condition)
            except ConditionSyntaxError as error:
                raise InvalidField(f"rules.{index}.condition", f"rule {rule.id}: {error}") from error
            if total > limits.MAX_POLICY_CONDITION_COST:
                message = f"rule {rule.id}: the conditions up to this one would cost about {total} steps to "
                message += f"evaluate, more than the {limits.MAX_POLICY_CONDITION_COST} a policy's may together"
                raise InvalidField(f"rules.{index}.condition", message)


def _known(principals: Principals, name: str, existing: set[str], path: str, rule_id: str, kind: str) -> None:
    for position, key_id in enumerate(getattr(principals, name)):
        if key_id not in existing:
            raise InvalidField(f"{path}.{name}.{position}", f"rule {rule_id}: no active {kind} {key_id} in this tenant")


def simulation_request(caller: Principal, fields: Mapping[str, Any]) -> ActionRequest:
    """The request a simulation asks about: the body's, on behalf of the caller's own key unless it names
    another (``key_id``, with that API key's ``role``)."""
    key_id = fields.get("key_id") or caller.key_id
    own = key_id == caller.key_id
    role = (caller.role.value if caller.role else None) if own else fields.get("role")
    return ActionRequest(
        action=str(fields["action"]),
        key_id=key_id,
        key_kind="license" if key_id.startswith("lk_") else "api",
        role=None if key_id.startswith("lk_") else role,
        feature=fields.get("feature"),
        tokens=int(fields.get("tokens") or 0),
        project_id=fields.get("project_id"),
        environment=fields.get("environment"),
        region=fields.get("region"),
        attributes=dict(fields.get("attributes") or {}),
    )
