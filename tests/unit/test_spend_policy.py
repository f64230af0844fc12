"""The policy gate of the spending routes, with fakes: a refusal is never taken from a stale cache, a write
refused because the policy moved is decided again, a retried request that was accepted gets its answer, and
every refusal leaves a decision record."""

from __future__ import annotations

from typing import Any

import pytest

from tollgate.approvals.rules import Approval, Effect, Match, Policy, Principals, Rule
from tollgate.approvals.rules_decisions import DecisionDraft
from tollgate.approvals.service_spend import SpendPolicy, spend_under_policy
from tollgate.core.clock import FixedClock
from tollgate.core.errors import ActionDenied, ApprovalRequired, PolicyChanged, StoreBusy
from tollgate.core.models import LicenseKey, Principal, Tenant, TenantStatus

TENANT = Tenant("tn_0000000000000001", "Acme", "ops@acme.example", "eu-west-1", TenantStatus.ACTIVE, 1_800_000_000)
KEY = LicenseKey("lk_0000000000000001", TENANT.id, "ci", "tgk_…", "hash", ("eu-west-1",), 1, environment="production")
CALLER = Principal(TENANT, KEY.id, license_key=KEY)
ALLOW = Policy(1)
DENY = Policy(2, rules=(Rule("freeze", Effect.DENY),))
APPROVE = Policy(
    3,
    rules=(
        Rule(
            "prod",
            Effect.REQUIRE_APPROVAL,
            Match(environments=("production",)),
            approval=Approval(Principals(("approver",)), 1, 600),
        ),
    ),
)


class Source:
    """The cache says ``cached``; a fresh read says ``stored``."""

    def __init__(self, cached: Policy, stored: Policy) -> None:
        self.cached, self.stored, self.fresh_reads = cached, stored, 0

    def policy(self, tenant_id: str, fresh: bool = False) -> Policy:
        if fresh:
            self.fresh_reads += 1
            self.cached = self.stored
        return self.cached


class Log:
    def __init__(self) -> None:
        self.records: list[DecisionDraft] = []

    def record(self, tenant_id: str, draft: DecisionDraft) -> None:
        self.records.append(draft)


def gate(source: Source, log: Log) -> SpendPolicy:
    return SpendPolicy(source, log, FixedClock(1_800_000_000), lambda: "eu-west-1")


def run(source: Source, log: Log, write: Any, replayed: Any = lambda: None) -> Any:
    return spend_under_policy(gate(source, log), CALLER, "consume", "build", 10, write, replayed)


def test_an_allowed_spend_is_written_under_the_version_decided() -> None:
    source, log, versions = Source(ALLOW, ALLOW), Log(), []
    assert run(source, log, lambda v: versions.append(v) or "charged") == "charged"
    assert (versions, source.fresh_reads, log.records) == ([1], 0, [])


def test_a_refusal_from_the_cache_is_checked_against_a_fresh_read() -> None:
    source, log = Source(DENY, ALLOW), Log()
    assert run(source, log, lambda v: v) == 1  # the policy allows again: no refusal, no record
    assert (source.fresh_reads, log.records) == (1, [])


def test_a_write_refused_because_the_policy_moved_is_decided_again() -> None:
    source, log, attempts = Source(ALLOW, DENY), Log(), []

    def write(version: int | None) -> str:
        attempts.append(version)
        raise PolicyChanged()

    with pytest.raises(ActionDenied) as refused:
        run(source, log, write)
    assert (attempts, refused.value.rule_id) == ([1], "freeze")
    assert [(d.event, d.rule_id, d.policy_version, d.actor) for d in log.records] == [
        ("spend.denied", "freeze", 2, f"license_key:{KEY.id}")
    ]


def test_a_policy_that_keeps_moving_is_store_busy_never_a_spend() -> None:
    source, log = Source(ALLOW, ALLOW), Log()

    def write(_: int | None) -> str:
        raise PolicyChanged()

    with pytest.raises(StoreBusy):
        run(source, log, write)


def test_approval_required_names_the_rule_and_a_retry_that_was_accepted_replays() -> None:
    source, log = Source(APPROVE, APPROVE), Log()
    with pytest.raises(ApprovalRequired) as refused:
        run(source, log, lambda _: "charged")
    assert refused.value.rule_id == "prod"
    assert [d.event for d in log.records] == ["spend.approval_required"]
    assert run(source, log, lambda _: "charged", replayed=lambda: "first answer") == "first answer"
    assert len(log.records) == 1  # a replay is not a new decision
