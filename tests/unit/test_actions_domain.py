"""The action state machine, pure: quorum of distinct approvers, one deny denies, no self-review, a second
review or a review after resolution refused, escalation opening the review to ``escalate_to``, expiry and a
grant lapsing by the clock alone, redemption once and within its grant, every hold ending once."""

from __future__ import annotations

import pytest

from tollgate.approvals import rules_actions as act
from tollgate.approvals.rules_actions import (
    Action,
    ActionNotApproved,
    ActionResolved,
    ActionStatus,
    AlreadyReviewed,
    ApprovalTerms,
    Approvers,
    GrantExpired,
    NotAnApprover,
    ReviewDecision,
    Reviewer,
    SelfReview,
)
from tollgate.core.errors import InvalidField

NOW = 1_800_000_000
APPROVE, DENY = ReviewDecision.APPROVE, ReviewDecision.DENY
TERMS = ApprovalTerms(
    approvers=Approvers(roles=frozenset({"approver"})),
    quorum=2,
    timeout_s=900,
    grant_ttl_s=300,
    escalate_after_s=600,
    escalate_to=Approvers(roles=frozenset({"admin"})),
)
ALICE, BOB, CAROL = Reviewer("ak_alice", "approver"), Reviewer("ak_bob", "approver"), Reviewer("ak_carol", "approver")
ADA = Reviewer("ak_ada", "admin")


def asked(requester: str = "api_key:ak_req", quantity: int = 5, cost: int = 30) -> Action:
    return Action(
        id="act_1",
        tenant_id="tn_1",
        name="deploy",
        requester=requester,
        status=ActionStatus.PENDING,
        created_at=NOW,
        rule_id="prod-deploys",
        policy_version=3,
        feature="deploy",
        quantity=quantity,
        cost_per_use=cost,
    )


def pending_action() -> Action:
    return act.pending(asked(), TERMS, NOW).after


def test_pending_holds_its_tokens_and_tells_the_approvers() -> None:
    change = act.pending(asked(), TERMS, NOW)
    after = change.after
    assert (after.status, after.held, after.expires_at, after.escalates_at) == (
        ActionStatus.PENDING,
        150,
        NOW + 900,
        NOW + 600,
    )
    assert change.hold_change == 150 and after.due_at() == NOW + 600
    assert [n.type for n in change.notices] == ["action.pending"]
    assert change.notices[0].data["approvers"] == {"roles": ["approver"], "api_key_ids": []}
    assert [r.event for r in change.records] == ["action.pending"]


def test_allow_holds_for_the_grant_and_deny_holds_nothing() -> None:
    allowed = act.allowed(asked(), 600, NOW).after
    assert (allowed.status, allowed.held, allowed.grant_expires_at) == (ActionStatus.APPROVED, 150, NOW + 600)
    denied = act.refused(asked(), NOW)
    assert (denied.after.status, denied.after.held, denied.hold_change) == (ActionStatus.DENIED, 0, 0)
    assert [n.type for n in denied.notices] == ["action.denied"]


def test_quorum_needs_distinct_approvers_and_not_the_requester() -> None:
    action = pending_action()
    with pytest.raises(SelfReview):
        act.reviewed(action, Reviewer("ak_req", "approver"), APPROVE, "mine", NOW + 1)
    first = act.reviewed(action, ALICE, APPROVE, "ok", NOW + 1)
    assert (first.after.status, first.after.approvals, first.after.version) == (ActionStatus.PENDING, 1, 1)
    assert [r.event for r in first.records] == ["review.approve"] and first.notices == ()
    with pytest.raises(AlreadyReviewed):
        act.reviewed(first.after, ALICE, APPROVE, "again", NOW + 2)
    second = act.reviewed(first.after, BOB, APPROVE, "ok", NOW + 2)
    assert (second.after.status, second.after.held, second.after.grant_expires_at) == (
        ActionStatus.APPROVED,
        150,
        NOW + 2 + 300,
    )
    assert [r.event for r in second.records] == ["review.approve", "action.approved"]
    assert [n.type for n in second.notices] == ["action.approved"]
    with pytest.raises(ActionResolved):
        act.reviewed(second.after, CAROL, APPROVE, "late", NOW + 3)


def test_one_deny_denies_and_releases_the_hold() -> None:
    first = act.reviewed(pending_action(), ALICE, APPROVE, "ok", NOW + 1)
    denied = act.reviewed(first.after, BOB, DENY, "not today", NOW + 2)
    assert (denied.after.status, denied.after.held, denied.hold_change) == (ActionStatus.DENIED, 0, -150)
    assert [r.event for r in denied.records] == ["review.deny", "action.denied"]
    with pytest.raises(ActionResolved):
        act.reviewed(denied.after, CAROL, DENY, "me too", NOW + 3)


def test_escalation_opens_the_review_to_escalate_to_and_their_reviews_count() -> None:
    action = pending_action()
    with pytest.raises(NotAnApprover):
        act.reviewed(action, ADA, APPROVE, "early", NOW + 1)
    assert act.due_change(action, NOW + 599) is None
    escalation = act.due_change(action, NOW + 600)
    assert escalation is not None and escalation.after.escalated
    assert [n.type for n in escalation.notices] == ["action.escalated"]
    assert escalation.notices[0].data["escalate_to"] == {"roles": ["admin"], "api_key_ids": []}
    assert escalation.after.due_at() == NOW + 900  # next: the timeout
    # enforced when read: the escalation set may review past escalates_at even before the sweeper marked it
    assert act.may_review(action, ADA, NOW + 600)
    one = act.reviewed(escalation.after, ALICE, APPROVE, "ok", NOW + 601)
    two = act.reviewed(one.after, ADA, APPROVE, "ok", NOW + 602)
    assert two.after.status is ActionStatus.APPROVED and two.after.reviews[-1].escalation


def test_expiry_and_grant_lapse_release_the_hold_once() -> None:
    expired = act.due_change(pending_action(), NOW + 900)
    assert expired is not None
    assert (expired.after.status, expired.hold_change) == (ActionStatus.EXPIRED, -150)
    assert act.due_change(expired.after, NOW + 10_000) is None  # ends once
    granted = act.allowed(asked(), 600, NOW).after
    lapse = act.due_change(granted, NOW + 600)
    assert lapse is not None and (lapse.after.status, lapse.hold_change) == (ActionStatus.EXPIRED, -150)
    assert lapse.notices[0].data["grant_lapsed"] is True
    assert act.due_change(lapse.after, NOW + 10_000) is None
    with pytest.raises(GrantExpired):
        act.redeemed(lapse.after, "deploy", 1, "api_key:ak_req", "le_1", NOW + 601)


def test_redemption_charges_at_most_the_hold_once() -> None:
    granted = act.allowed(asked(), 600, NOW).after
    with pytest.raises(InvalidField):
        act.redeemed(granted, "other", 1, "api_key:ak_req", "le_1", NOW + 1)
    with pytest.raises(InvalidField):
        act.redeemed(granted, "deploy", 6, "api_key:ak_req", "le_1", NOW + 1)
    change = act.redeemed(granted, "deploy", 3, "api_key:ak_req", "le_1", NOW + 1)
    assert (change.after.status, change.charge, change.hold_change, change.after.held) == (
        ActionStatus.REDEEMED,
        90,
        -150,
        0,
    )
    with pytest.raises(ActionNotApproved):
        act.redeemed(change.after, "deploy", 1, "api_key:ak_req", "le_2", NOW + 2)
    with pytest.raises(ActionNotApproved):
        act.redeemed(pending_action(), "deploy", 1, "api_key:ak_req", "le_3", NOW + 2)


def test_cancel_releases_a_pending_or_approved_hold_and_nothing_else() -> None:
    change = act.cancelled(pending_action(), "api_key:ak_req", NOW + 5)
    assert (change.after.status, change.hold_change) == (ActionStatus.CANCELLED, -150)
    with pytest.raises(ActionResolved):
        act.cancelled(change.after, "api_key:ak_req", NOW + 6)


def test_break_glass_is_approved_at_once_flagged_and_told() -> None:
    change = act.broke_glass(asked(), TERMS, NOW)
    assert (change.after.status, change.after.break_glass, change.after.held) == (ActionStatus.APPROVED, True, 150)
    assert [n.type for n in change.notices] == ["action.approved"]
    assert change.notices[0].data["break_glass"] is True and change.notices[0].data["approvers"]["roles"] == [
        "approver"
    ]


def test_the_queue_shows_only_what_the_reviewer_may_review_now() -> None:
    action = pending_action()
    assert act.may_review(action, ALICE, NOW)
    assert not act.may_review(action, Reviewer("ak_req", "approver"), NOW)  # the requester
    assert not act.may_review(action, Reviewer("ak_m", "member"), NOW)
    assert not act.may_review(action, ALICE, NOW + 900)  # expired by then
    reviewed = act.reviewed(action, ALICE, APPROVE, "", NOW).after
    assert not act.may_review(reviewed, ALICE, NOW)


def test_terms_and_reviews_survive_their_stored_form() -> None:
    assert ApprovalTerms.from_dict(TERMS.as_dict()) == TERMS
    review = act.reviewed(pending_action(), ALICE, APPROVE, "ok", NOW).after.reviews[0]
    assert act.Review.from_dict(review.as_dict()) == review


def test_the_audit_finds_an_approval_without_its_quorum_or_by_its_requester() -> None:
    from dataclasses import replace

    from infra.audit.rules import StoredPool, TenantBooks, audit_tenant

    def books(action: Action) -> TenantBooks:
        return TenantBooks("tn_1", StoredPool(0, action.held, -action.held, None), [], [], [], [], [], [action])

    approved = act.reviewed(act.reviewed(pending_action(), ALICE, APPROVE, "", NOW).after, BOB, APPROVE, "", NOW)
    ledger_free = books(replace(approved.after, held=150))
    assert audit_tenant(ledger_free) == []
    short = replace(approved.after, reviews=approved.after.reviews[:1])
    assert any("quorum" in m for m in audit_tenant(books(short)))
    own = replace(
        approved.after, reviews=(*approved.after.reviews, replace(approved.after.reviews[0], key_id="ak_req"))
    )
    assert any("its own requester" in m for m in audit_tenant(books(own)))
    glass = act.broke_glass(asked(), TERMS, NOW).after
    assert audit_tenant(books(glass)) == []  # flagged break-glass: no quorum needed
