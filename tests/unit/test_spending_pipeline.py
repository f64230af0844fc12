"""The spending pipeline itself (``tollgate.pool.service_spending``), with fakes: every check refuses every
kind, in SPEC's order (credential, tenant active, scope, policy at the total, due lots, the write), and
nothing after a refusal runs. The HTTP side is tests/integration/test_spending_pipeline.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tollgate.approvals.rules import Effect, Match, Policy, Rule
from tollgate.approvals.rules_decisions import DecisionDraft
from tollgate.approvals.service_spend import SpendPolicy
from tollgate.core.clock import FixedClock
from tollgate.core.errors import (
    ActionDenied,
    EnvironmentNotAllowed,
    FeatureNotEntitled,
    Forbidden,
    ProjectNotAllowed,
    RegionNotAllowed,
    TenantSuspended,
)
from tollgate.core.models import LicenseKey, Principal, Tenant, TenantStatus
from tollgate.core.roles import Role
from tollgate.pool.service_spending import POLICY_ACTION, Charge, LotsDue, Spend, Spending, SpendKind

TENANT = Tenant("tn_0000000000000001", "Acme", "ops@acme.example", "us-east-1", TenantStatus.ACTIVE, 1_800_000_000)
KEY = LicenseKey(
    "lk_0000000000000001",
    TENANT.id,
    "ci",
    "tgk_…",
    "hash",
    ("us-east-1",),
    1,
    features=("build",),
    project_id="pr_1",
    environment="production",
)
CALLER = Principal(TENANT, KEY.id, license_key=KEY)
SUSPENDED = replace(CALLER, tenant=TENANT._replace(status=TenantStatus.SUSPENDED))
DENY = Policy(2, rules=(Rule("freeze", Effect.DENY),))
ALLOW = Policy(1)
BIG = Policy(3, rules=(Rule("big", Effect.DENY, Match(min_tokens=100)),))
KINDS = list(SpendKind)
GOVERNED = [kind for kind in KINDS if kind in POLICY_ACTION]  # a redemption and an ask are governed otherwise


class Source:
    def __init__(self, policy: Policy) -> None:
        self.policy_now = policy

    def policy(self, tenant_id: str, fresh: bool = False) -> Policy:
        return self.policy_now


class Log:
    def __init__(self) -> None:
        self.records: list[DecisionDraft] = []

    def record(self, tenant_id: str, draft: DecisionDraft) -> None:
        self.records.append(draft)


class Settler:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    def settle_due_lots(self, tenant_id: str) -> None:
        self.steps.append("lots expired")


class Run:
    """One spend through a pipeline of fakes; ``steps`` is what ran, in order."""

    def __init__(self, policy: Policy = ALLOW, lots_due: bool = False) -> None:
        self.steps: list[str] = []
        self.log = Log()
        self.lots_due = lots_due
        gate = SpendPolicy(Source(policy), self.log, FixedClock(1_800_000_000), lambda: "us-east-1")
        self.spending = Spending(gate, Settler(self.steps), lambda: "us-east-1")

    def __call__(self, kind: SpendKind, caller: Principal = CALLER, tokens: int = 10, **where: Any) -> Any:
        spend = Spend(kind, where.pop("feature", "build"), **where)

        def write(version: int | None) -> str:
            self.steps.append(f"write under {version}")
            if self.lots_due:
                self.lots_due = False
                raise LotsDue()
            return "written"

        def price() -> Charge[str]:
            self.steps.append("priced")
            return Charge(tokens, write)

        return self.spending.spend(caller, spend, price)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_goes_through_in_scope_and_under_the_policy(kind: SpendKind) -> None:
    run = Run()
    assert run(kind, project_id="pr_1", environment="production", region="us-east-1") == "written"
    version = 1 if kind in GOVERNED else None  # governed: conditioned on the version decided under
    assert run.steps == ["priced", f"write under {version}"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("caller", "where", "refusal"),
    [
        (SUSPENDED, {}, TenantSuspended),
        (CALLER, {"feature": "deploy"}, FeatureNotEntitled),
        (CALLER, {"region": "eu-west-1"}, RegionNotAllowed),
        (CALLER, {"project_id": "pr_2"}, ProjectNotAllowed),
        (CALLER, {"environment": "staging"}, EnvironmentNotAllowed),
        (Principal(TENANT, "ak_1", role=Role.BILLING), {}, Forbidden),  # a role that may not spend
    ],
    ids=["suspended", "feature", "region", "project", "environment", "credential"],
)
def test_every_check_refuses_every_kind_before_anything_is_priced_or_written(
    kind: SpendKind, caller: Principal, where: dict[str, Any], refusal: type[Exception]
) -> None:
    run = Run()
    with pytest.raises(refusal) as raised:
        run(kind, caller, **where)
    assert type(raised.value) is refusal or refusal is Forbidden
    assert run.steps == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_serving_region_is_in_the_keys_scope_for_every_kind(kind: SpendKind) -> None:
    run = Run()
    run.spending = Spending(None, None, lambda: "eu-west-1")
    with pytest.raises(RegionNotAllowed):
        run(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_the_policy_refuses_the_kinds_it_governs_at_their_total(kind: SpendKind) -> None:
    run = Run(BIG)
    if kind not in GOVERNED:  # a redemption: its approval; an ask: its own decision, made in its write
        assert run(kind, tokens=100) == "written"
        assert run.log.records == []
        return
    assert run(kind, tokens=99) == "written"
    with pytest.raises(ActionDenied):
        run(kind, tokens=100)  # a hold grown to 100 meets the rule as one opened at 100
    assert [r.rule_id for r in run.log.records] == ["big"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_order_is_tenant_then_scope_then_policy(kind: SpendKind) -> None:
    run = Run(DENY)
    with pytest.raises(TenantSuspended):
        run(kind, SUSPENDED, region="eu-west-1")
    with pytest.raises(RegionNotAllowed):
        run(kind, region="eu-west-1")
    assert run.log.records == [] and run.steps == []  # the policy was not asked


@pytest.mark.parametrize("kind", KINDS)
def test_a_due_lot_is_expired_and_the_write_made_again(kind: SpendKind) -> None:
    run = Run(lots_due=True)
    assert run(kind) == "written"
    version = 1 if kind in GOVERNED else None
    assert run.steps == ["priced", f"write under {version}", "lots expired", f"write under {version}"]


def test_an_api_key_has_no_key_scope_to_meet() -> None:
    run = Run()
    owner = Principal(TENANT, "ak_1", role=Role.OWNER)
    assert run(SpendKind.CONSUME, owner, feature="deploy", region="eu-west-1", project_id="pr_9") == "written"
