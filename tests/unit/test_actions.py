"""Actions on moto (one thread), with a fixed policy verdict: holds taken and ended exactly once (approved,
denied, expired, cancelled, redeemed), the sweeper safe twice, idempotent asking, and the audit clean after
each. The HTTP paths, the real policy, the decision log and the events are in tests/integration."""

from __future__ import annotations

import pytest

from infra.audit.books import DynamoBooks
from infra.audit.rules import audit_tenant
from tests.unit.leasing import LeaseWorld
from tollgate.approvals.rules_actions import (
    ActionNotApproved,
    ActionResolved,
    ActionStatus,
    ApprovalTerms,
    Approvers,
    GrantExpired,
    ReviewDecision,
    SelfReview,
)
from tollgate.approvals.service import ActionService, Ask, BreakGlassNotAllowed, Verdict
from tollgate.core.errors import ActionDenied, IdempotencyKeyReused, InsufficientTokens
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Principal
from tollgate.core.roles import Role
from tollgate.pool.service_sweeper import SweeperService

COST = 3  # feature "build"
TERMS = ApprovalTerms(Approvers(roles=frozenset({"approver"})), quorum=2, timeout_s=900, grant_ttl_s=300)


class FixedJudge:
    def __init__(self) -> None:
        self.verdict = Verdict("allow", None, 0)

    def judge(self, caller: Principal, ask: Ask, tokens: int, now: int) -> Verdict:
        return self.verdict


class ActionWorld(LeaseWorld):
    def __init__(self) -> None:
        super().__init__()
        from tollgate.approvals.store import DynamoActionRepository
        from tollgate.pool.store_expiry import DynamoDueIndex

        self.judge = FixedJudge()
        self.actions = ActionService(
            DynamoActionRepository(), self.catalog, self.judge, self.clock, RANDOM_IDS, settler=self.expiry
        )
        self.sweeper = SweeperService(DynamoDueIndex(), self.leases, self.expiry, self.clock, actions=self.actions)

    def key(self, owner: Principal, role: Role) -> Principal:
        return Principal(tenant=owner.tenant, key_id=RANDOM_IDS.new_id("ak"), role=role)

    def audit(self, caller: Principal) -> list[str]:
        return audit_tenant(DynamoBooks().books(caller.tenant_id))

    def reserved(self, caller: Principal) -> int:
        return self.repo.pool(caller.tenant_id).reserved


@pytest.fixture
def world(table: str) -> ActionWorld:
    return ActionWorld()


BUILD = Ask("deploy", feature="build", quantity=10)


def test_an_allowed_action_holds_its_tokens_and_is_redeemed_once(world: ActionWorld) -> None:
    owner = world.tenant(100)
    member = world.key(owner, Role.MEMBER)
    status, action = world.actions.request(member, BUILD, "k1")
    assert (status, action.status, action.held) == (200, ActionStatus.APPROVED, 30)
    assert world.reserved(owner) == 30
    assert world.actions.request(member, BUILD, "k1")[1].id == action.id  # a retry
    with pytest.raises(IdempotencyKeyReused):
        world.actions.request(member, Ask("deploy", feature="build", quantity=11), "k1")
    status, body = world.actions.redeem(member, action.id, "build", 4, "c1", minimal=False)
    assert (status, body["charged"]) == (200, 12)
    assert world.actions.redeem(member, action.id, "build", 4, "c1", minimal=False) == (200, body)  # replay
    with pytest.raises(ActionNotApproved):
        world.actions.redeem(member, action.id, "build", 1, "c2", minimal=False)
    pool = world.repo.pool(owner.tenant_id)
    assert (pool.balance, pool.reserved) == (88, 0)
    assert world.audit(owner) == []


def test_a_denied_action_is_recorded_holds_nothing_and_a_retry_is_denied_again(world: ActionWorld) -> None:
    owner = world.tenant(100)
    world.judge.verdict = Verdict("deny", "no-nights", 0)
    with pytest.raises(ActionDenied) as denied:
        world.actions.request(owner, BUILD, "k1")
    assert denied.value.rule_id == "no-nights"
    with pytest.raises(ActionDenied):
        world.actions.request(owner, BUILD, "k1")
    assert world.reserved(owner) == 0 and world.audit(owner) == []


def test_pending_needs_a_quorum_of_others_and_a_deny_denies(world: ActionWorld) -> None:
    owner = world.tenant(100)
    requester = world.key(owner, Role.MEMBER)  # named an approver by id: still never of its own action
    terms = ApprovalTerms(
        Approvers(frozenset({"approver"}), frozenset({requester.key_id})), quorum=2, timeout_s=900, grant_ttl_s=300
    )
    world.judge.verdict = Verdict("require_approval", "prod", 0, terms=terms)
    alice, bob = world.key(owner, Role.APPROVER), world.key(owner, Role.APPROVER)
    status, action = world.actions.request(requester, BUILD, "k1")
    assert (status, action.status, world.reserved(owner)) == (202, ActionStatus.PENDING, 30)
    with pytest.raises(SelfReview):
        world.actions.review(requester, action.id, ReviewDecision.APPROVE, "mine")
    assert world.actions.review(alice, action.id, ReviewDecision.APPROVE, "ok").status is ActionStatus.PENDING
    approved = world.actions.review(bob, action.id, ReviewDecision.APPROVE, "ok")
    assert (approved.status, approved.approvals, world.reserved(owner)) == (ActionStatus.APPROVED, 2, 30)
    _, second = world.actions.request(requester, BUILD, "k2")
    denied = world.actions.review(alice, second.id, ReviewDecision.DENY, "no")
    assert denied.status is ActionStatus.DENIED and world.reserved(owner) == 30
    with pytest.raises(ActionResolved):
        world.actions.review(bob, second.id, ReviewDecision.APPROVE, "late")
    assert world.audit(owner) == []


def test_the_clock_expires_pending_and_lapses_grants_once_and_the_sweeper_is_safe_twice(world: ActionWorld) -> None:
    owner = world.tenant(100)
    member = world.key(owner, Role.MEMBER)
    world.judge.verdict = Verdict("require_approval", "prod", 0, terms=TERMS)
    _, waiting = world.actions.request(member, BUILD, "k1")
    world.judge.verdict = Verdict("allow", None, 0, grant_ttl_s=600)
    _, granted = world.actions.request(member, Ask("deploy", feature="build", quantity=5), "k2")
    assert world.reserved(owner) == 45
    world.clock.advance(900)
    assert world.actions.get(owner, waiting.id).status is ActionStatus.EXPIRED  # enforced when read
    assert world.reserved(owner) == 15
    world.clock.advance(100)
    report = world.sweeper.sweep()
    assert report.actions_changed == 1 and world.reserved(owner) == 0
    assert world.sweeper.sweep().actions_changed == 0
    with pytest.raises(GrantExpired):
        world.actions.redeem(member, granted.id, "build", 1, "c1", minimal=False)
    assert world.repo.pool(owner.tenant_id).balance == 100 and world.audit(owner) == []


def test_cancel_releases_the_hold_and_a_pool_that_cannot_hold_it_is_402(world: ActionWorld) -> None:
    owner = world.tenant(40)
    member = world.key(owner, Role.MEMBER)
    _, action = world.actions.request(member, BUILD, "k1")
    with pytest.raises(InsufficientTokens):
        world.actions.request(member, BUILD, "k2")  # 30 held of 40: another 30 cannot be held
    assert world.actions.cancel(member, action.id).status is ActionStatus.CANCELLED
    assert world.reserved(owner) == 0
    with pytest.raises(ActionResolved):
        world.actions.cancel(member, action.id)
    assert world.audit(owner) == []


def test_break_glass_proceeds_at_once_only_for_whom_the_rule_allows(world: ActionWorld) -> None:
    owner = world.tenant(100)
    member = world.key(owner, Role.MEMBER)
    world.judge.verdict = Verdict("require_approval", "prod", 0, terms=TERMS, break_glass_allowed=True)
    status, action = world.actions.request(member, Ask("deploy", feature="build", quantity=2, break_glass=True), "b1")
    assert (status, action.status, action.break_glass, action.held) == (200, ActionStatus.APPROVED, True, 6)
    world.judge.verdict = Verdict("require_approval", "prod", 0, terms=TERMS, break_glass_allowed=False)
    with pytest.raises(BreakGlassNotAllowed):
        world.actions.request(member, Ask("deploy", feature="build", quantity=2, break_glass=True), "b2")
    assert world.reserved(owner) == 6 and world.audit(owner) == []


def test_a_decision_made_under_a_policy_that_moved_is_made_again(world: ActionWorld) -> None:
    owner = world.tenant(100)
    verdicts = [Verdict("deny", "stale", 7), Verdict("allow", None, 0)]  # version 7 is not the stored one (0)

    class MovingJudge:
        calls = 0

        def judge(self, caller: Principal, ask: Ask, tokens: int, now: int) -> Verdict:
            MovingJudge.calls += 1
            return verdicts.pop(0)

    world.actions._judge = MovingJudge()
    status, action = world.actions.request(owner, BUILD, "m1")
    assert (status, action.status, action.policy_version, MovingJudge.calls) == (200, ActionStatus.APPROVED, 0, 2)
    assert world.audit(owner) == []


def test_an_approvers_queue_fills_its_page_past_actions_it_may_not_review(world: ActionWorld) -> None:
    owner = world.tenant(1000)
    alice, carol = world.key(owner, Role.APPROVER), world.key(owner, Role.APPROVER)

    def named(key_id: str) -> ApprovalTerms:
        return ApprovalTerms(Approvers(api_key_ids=frozenset({key_id})), quorum=1, timeout_s=900, grant_ttl_s=300)

    for_alice, for_carol = named(alice.key_id), named(carol.key_id)
    requester = world.key(owner, Role.MEMBER)
    mine = []
    for n in range(9):  # newest first: alice's three are spread among carol's six
        terms = for_alice if n % 3 == 0 else for_carol
        world.judge.verdict = Verdict("require_approval", "prod", 0, terms=terms)
        _, action = world.actions.request(requester, Ask("deploy", feature="build", quantity=1), f"k{n}")
        if terms is for_alice:
            mine.append(action.id)
    page, cursor = world.actions.page(alice, None, True, None, 2)
    assert len(page) == 2 and cursor is not None  # two of alice's, though the first page of 2 held one
    rest, _ = world.actions.page(alice, None, True, cursor, 2)
    assert sorted(a.id for a in page + rest) == sorted(mine)
    assert world.audit(owner) == []
