"""The decision log and the policy item on the real data layer (moto, one thread): records appended in the
caller's transaction or not at all, a head moved by another writer rebuilt and chained after it, and the
policy's version conditions (412 on a stale version, the spend's check refusing a moved policy)."""

from __future__ import annotations

import pytest

from tests.unit.leasing import LeaseWorld
from tollgate.approvals import store_decisions as decisions
from tollgate.approvals.rules import Effect
from tollgate.approvals.rules_decisions import ChainHead, DecisionDraft, verify_chain
from tollgate.approvals.store_policy import CachedPolicySource, put_policy, read_policy
from tollgate.core.errors import PreconditionFailed
from tollgate.kernel import keys
from tollgate.kernel import pool as kernel
from tollgate.kernel.items import ProjectItem
from tollgate.kernel.policy_check import check_policy_version
from tollgate.kernel.pool import PoolTransaction, Refused

DRAFT = DecisionDraft(1_800_000_000, "api_key:ak_0000000000000001", "spend.denied", None, "freeze", 1)


@pytest.fixture
def tenant_id(table: str) -> str:
    return LeaseWorld().tenant(10).tenant_id


def records(tenant_id: str) -> list[decisions.DecisionRecord]:
    return list(decisions.all_records(tenant_id))


def test_records_commit_with_the_change_or_not_at_all(tenant_id: str) -> None:
    def failing(head: ChainHead) -> tuple[PoolTransaction, list[DecisionDraft]]:
        tx = PoolTransaction(tenant_id, kernel.token("failing", str(head.seq)))
        tx.check(
            "project",
            ProjectItem,
            keys.tenant_pk(tenant_id),
            keys.project_sk("pj_0000000000000000"),
            ProjectItem.pk.exists(),
        )
        return tx, [DRAFT, DRAFT]

    with pytest.raises(Refused) as refused:
        decisions.commit_with_decisions(tenant_id, failing)
    assert "project" in refused.value
    assert records(tenant_id) == [] and decisions.read_head(tenant_id) == ChainHead()

    written = decisions.commit_with_decisions(
        tenant_id, lambda head: (PoolTransaction(tenant_id, kernel.token("ok", str(head.seq))), [DRAFT, DRAFT])
    )
    assert [r.seq for r in written] == [1, 2]
    assert records(tenant_id) == written
    assert decisions.read_head(tenant_id) == ChainHead(2, written[-1].hash)


def test_a_head_moved_by_another_writer_is_read_again_and_chained_after(tenant_id: str) -> None:
    calls: list[int] = []

    def build(head: ChainHead) -> tuple[PoolTransaction, list[DecisionDraft]]:
        calls.append(head.seq)
        if len(calls) == 1:
            decisions.record_alone(tenant_id, DRAFT)  # another writer takes seq 1 meanwhile
        return PoolTransaction(tenant_id, kernel.token("racing", str(head.seq))), [DRAFT]

    mine = decisions.commit_with_decisions(tenant_id, build)
    assert calls == [0, 1]
    assert [r.seq for r in mine] == [2]
    chain = records(tenant_id)
    assert [r.seq for r in chain] == [1, 2]
    assert verify_chain(chain, decisions.read_head(tenant_id)) is None


def test_pages_follow_the_chain(tenant_id: str) -> None:
    for _ in range(5):
        decisions.record_alone(tenant_id, DRAFT)
    seen, cursor = [], None
    while True:
        page = decisions.page(tenant_id, cursor, 2)
        seen += page.records
        cursor = page.cursor
        if cursor is None:
            break
    assert [r.seq for r in seen] == [1, 2, 3, 4, 5]


def test_the_policy_is_replaced_only_from_its_version_and_a_spend_checks_it(tenant_id: str) -> None:
    assert read_policy(tenant_id).version == 0
    document = {"default_effect": "deny", "rules": [{"id": "r", "effect": "allow", "match": {"max_tokens": 5}}]}
    assert put_policy(tenant_id, document, 0, 1_800_000_000, "api_key:ak_0000000000000001").version == 1
    with pytest.raises(PreconditionFailed):
        put_policy(tenant_id, document, 0, 1_800_000_001, "api_key:ak_0000000000000001")
    stored = read_policy(tenant_id)
    assert (stored.version, stored.default_effect, stored.rules[0].match.max_tokens) == (1, Effect.DENY, 5)

    for version, holds in ((0, False), (1, True), (2, False)):
        tx = PoolTransaction(tenant_id, kernel.token("check", str(version)))
        check_policy_version(tx, tenant_id, version)
        tx.check("tenant", ProjectItem, keys.tenant_pk(tenant_id), keys.TENANT_SK, ProjectItem.pk.exists())
        if holds:
            tx.commit()
        else:
            with pytest.raises(Refused) as refused:
                tx.commit()
            assert "policy" in refused.value


def test_the_cache_serves_until_asked_for_a_fresh_read(tenant_id: str) -> None:
    source = CachedPolicySource()
    assert source.policy(tenant_id).version == 0
    put_policy(tenant_id, {"default_effect": "allow", "rules": []}, 0, 1_800_000_000, "operator:test")
    assert source.policy(tenant_id).version == 0  # cached: the spend's version check catches the change
    assert source.policy(tenant_id, fresh=True).version == 1
    assert source.policy(tenant_id).version == 1
