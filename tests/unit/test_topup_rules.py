"""Auto top-up's pure rules: what a crossing is, what it may buy, what a failure does, the ids it derives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from infra.audit.rules import StoredPool, StoredTopUp, StoredTopUpSettings, TenantBooks, audit_tenant
from tollgate.core.limits import is_id
from tollgate.purchases.rules_topup import (
    DISABLED_AFTER_FAILURES,
    TopUpSettings,
    after_failure,
    crossed,
    idempotency_key,
    refusal,
    started,
    topup_purchase_id,
)

DEC = int(datetime(2026, 12, 7, tzinfo=UTC).timestamp())
JAN = int(datetime(2027, 1, 2, tzinfo=UTC).timestamp())
ON = TopUpSettings("tn_0000000000000000", True, 50, "starter", 1, 2)


def test_only_the_change_from_at_least_the_threshold_to_below_it_crosses() -> None:
    assert crossed(50, 49, 50) and crossed(100, -5, 50)
    assert not crossed(49, 10, 50)  # already below: no new crossing
    assert not crossed(60, 50, 50)  # at the threshold is not below it
    assert not crossed(10, 1000, 50) and not crossed(None, 10, 50)


def test_a_crossing_buys_while_enabled_and_under_the_monthly_limit_which_resets_with_the_month() -> None:
    assert refusal(None, DEC) == "auto top-up is off"
    assert refusal(ON, DEC) is None
    twice = started(started(ON, DEC), DEC)
    assert (twice.purchases_in(DEC), twice.version) == (2, 2)
    assert refusal(twice, DEC) == "monthly_limit (2) reached"
    assert twice.purchases_in(JAN) == 0 and refusal(twice, JAN) is None  # reset when read
    enabled_below = replace(ON, below=True)
    assert not started(enabled_below, DEC).below  # the enabling crossing is spent: a later change is none
    assert not after_failure(enabled_below, DEC, DEC).below


def test_a_failure_uncounts_its_purchase_and_the_third_in_a_row_switches_off() -> None:
    one = after_failure(started(ON, DEC), DEC, DEC)
    assert (one.purchases_in(DEC), one.failures, one.enabled) == (0, 1, True)
    three = after_failure(after_failure(one, DEC, DEC), DEC, DEC)
    assert (three.failures, three.enabled, three.disabled_reason) == (3, False, DISABLED_AFTER_FAILURES)
    last_month = after_failure(started(ON, JAN), DEC, JAN)  # December's failure does not uncount January's
    assert last_month.purchases_in(JAN) == 1


def test_a_crossing_names_its_purchase_and_its_idempotency_key() -> None:
    first = topup_purchase_id(ON.tenant_id, "123", DEC)
    assert is_id(first, "pu") and first == topup_purchase_id(ON.tenant_id, "123", DEC)
    assert first != topup_purchase_id(ON.tenant_id, "124", DEC)
    assert topup_purchase_id(ON.tenant_id, "124", DEC)[:13] == first[:13]  # sorts by the crossing's time
    assert idempotency_key(ON.tenant_id, "123") == f"tollgate-topup-{ON.tenant_id}-123"


def _books(topups: list[StoredTopUp], settings: StoredTopUpSettings | None) -> TenantBooks:
    return TenantBooks(
        "tn_0000000000000000", StoredPool(0, 0, 0, None), [], [], [], topups=topups, topup_settings=settings
    )


def test_the_audit_finds_a_crossing_bought_twice_and_a_month_past_its_limit() -> None:
    month = started(ON, DEC).month
    right = [StoredTopUp("1", "paid", DEC), StoredTopUp("2", "pending", DEC), StoredTopUp("3", "failed", DEC)]
    assert audit_tenant(_books(right, StoredTopUpSettings(2, month, 2))) == []

    twice = [*right, StoredTopUp("2", "paid", DEC)]
    found = audit_tenant(_books(twice, StoredTopUpSettings(2, month, 2)))
    assert any("the crossing 2 bought 2 top-ups" in text for text in found)
    assert any("more than monthly_limit 2" in text for text in found)
    assert any("counts 2 purchases in 2026-12, not 3" in text for text in found)
