"""The policy guard of a spending transaction: it commits only while the tenant's policy is still the version
the decision was made under (SPEC.md: "the debit is conditioned on the policy version"). The kernel's, so
that every spending store (pool, holds, approvals) carries the same check without importing another
capability's store; a cancellation under ``POLICY`` becomes ``tollgate.core.errors.PolicyChanged``.
"""

from __future__ import annotations

from pynamodb.expressions.condition import Condition

from tollgate.kernel import keys
from tollgate.kernel.items import PolicyItem
from tollgate.kernel.pool import PoolTransaction

POLICY = "policy"  # the label of the policy check in a kernel transaction


def version_is(version: int) -> Condition:
    """The stored policy is ``version`` (0: there is none)."""
    if version == 0:
        return PolicyItem.pk.does_not_exist()
    return PolicyItem.version == version


def check_policy_version(tx: PoolTransaction, tenant_id: str, version: int) -> None:
    """Make ``tx`` commit only while the tenant's policy is ``version``; a cancellation then names
    ``POLICY`` (``Refused``) and the caller reads the policy again and decides again."""
    tx.check(POLICY, PolicyItem, keys.tenant_pk(tenant_id), keys.POLICY_SK, version_is(version))
