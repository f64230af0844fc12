"""The stored items, one pynamodb model per record type, all in the one table."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from tollgate.kernel.table import TableModel


class ByKindIndex(GlobalSecondaryIndex["TenantItem"]):
    """Records of one kind across tenants, oldest first; for operators."""

    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind_pk = UnicodeAttribute(hash_key=True)
    kind_sk = UnicodeAttribute(range_key=True)


class TenantItem(TableModel):
    """Profile, status and the token pool, in one item so one conditional write checks them together."""

    kind_pk = UnicodeAttribute()
    kind_sk = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    home_region = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    stripe_customer_id = UnicodeAttribute(null=True)
    signup_hash = UnicodeAttribute(null=True)
    balance = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    available = NumberAttribute(default=0)  # balance - reserved, kept in step so conditions can test it
    next_lot_expiry = NumberAttribute(null=True)
    # overdraft: how far below zero consumption may take ``available`` (absent: 0); ``spendable`` is
    # ``available + overdraft``, kept in step so a condition can test it (meaningful only with ``overdraft``)
    overdraft = NumberAttribute(null=True)
    spendable = NumberAttribute(null=True)
    # the tenant's own budget level (a monthly cap), on the pool item so a debit charges it in the same write
    budget = NumberAttribute(null=True)
    spent = NumberAttribute(null=True)
    committed = NumberAttribute(null=True)
    budget_left = NumberAttribute(null=True)
    period = UnicodeAttribute(null=True)  # "month", or absent: none
    period_start = NumberAttribute(null=True)  # a monthly budget's current period (UTC month start)
    by_kind = ByKindIndex()


class ApiKeyItem(TableModel):
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    display = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    created_at = NumberAttribute()
    created_by = UnicodeAttribute(null=True)
    revoked_at = NumberAttribute(null=True)


class LicenseKeyItem(TableModel):
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    display = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    regions = UnicodeSetAttribute()
    features = UnicodeSetAttribute(null=True)
    project_id = UnicodeAttribute(null=True)
    environment = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    expires_at = NumberAttribute(null=True)
    revoked_at = NumberAttribute(null=True)
    rotated_at = NumberAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)  # present only until its key.expiring event is written
    due_at = NumberAttribute(null=True)
    # the key's own budget level (scope key:<key_id>): charged on this item, in the same update that proves
    # the key on the SDK's path, so a debit writes it instead of only checking it
    budget = NumberAttribute(null=True)
    spent = NumberAttribute(null=True)
    committed = NumberAttribute(null=True)
    budget_left = NumberAttribute(null=True)
    period = UnicodeAttribute(null=True)
    period_start = NumberAttribute(null=True)


class ProjectItem(TableModel):
    project_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = NumberAttribute()
    budget = NumberAttribute(null=True)
    spent = NumberAttribute(default=0)
    committed = NumberAttribute(default=0)  # spent plus what running leases hold
    budget_left = NumberAttribute(null=True)  # budget - committed, kept in step so a condition can test it
    period = UnicodeAttribute(null=True)  # "month", or absent: none
    period_start = NumberAttribute(null=True)  # a monthly budget's current period (UTC month start)


class BudgetItem(TableModel):
    """An environment's budget level (sk BUDGET#environment:<project>:<name>): what is spent and held there,
    always counted, and its limit when one is set. (A tenant's level is on its pool item, a project's on its
    item, a license key's on the key's item.)"""

    scope = UnicodeAttribute(null=True)
    budget = NumberAttribute(null=True)
    spent = NumberAttribute(default=0)
    committed = NumberAttribute(default=0)
    budget_left = NumberAttribute(null=True)
    period = UnicodeAttribute(null=True)
    period_start = NumberAttribute(null=True)


class BudgetMarkItem(TableModel):
    """A budget level whose ``budget.exhausted`` event was raised for a period (sk EXHAUSTED#<scope>#<period>
    #<limit>): written with the event, only if absent, so the event is raised once per level per period."""

    at = NumberAttribute()
    purge_at = NumberAttribute(null=True)  # TTL: clean-up only


class LedgerEntryItem(TableModel):
    entry_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    amount = NumberAttribute()
    created_at = NumberAttribute()
    actor = UnicodeAttribute()
    reason = UnicodeAttribute(default="")
    feature = UnicodeAttribute(null=True)
    quantity = NumberAttribute(null=True)
    project_id = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    purchase_id = UnicodeAttribute(null=True)
    lot_id = UnicodeAttribute(null=True)
    lease_id = UnicodeAttribute(null=True)
    allowance_id = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    action_id = UnicodeAttribute(null=True)  # an approved action redeemed by this consumption


class UsageMetaItem(TableModel):
    """The generation of a tenant's usage rollups that reports read (pk T#<tenant>#U, sk USAGE); a rebuild
    writes the next generation and then moves this, so the aggregator's writes to the old one are refused."""

    generation = NumberAttribute(null=True)  # absent: 0
    next_generation = NumberAttribute(null=True)  # the last generation a rebuild claimed


class UsageRollupItem(TableModel):
    """Tokens, quantity and count spent on one UTC day for one feature, project and key (sk R#…)."""

    generation = NumberAttribute()
    day = UnicodeAttribute()
    feature = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)
    key_id = UnicodeAttribute(null=True)
    tokens = NumberAttribute(default=0)
    quantity = NumberAttribute(default=0)
    entries = NumberAttribute(default=0)  # ledger entries counted (``count`` is a pynamodb method)


class UsageMarkItem(TableModel):
    """A ledger entry counted into a generation's rollups (sk M#…), written with the rollup's increment."""

    entry_id = UnicodeAttribute()


class TimedAlertIndex(GlobalSecondaryIndex["AlertItem"]):
    """``by_kind`` read for alerts a schedule evaluates (kind_pk ``ALERT_TIMED``, kind_sk tenant#alert)."""

    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind_pk = UnicodeAttribute(hash_key=True)
    kind_sk = UnicodeAttribute(range_key=True)


class AlertItem(TableModel):
    """An alert (sk ALERT#…). ``version`` makes every flip a compare-and-set; ``seen`` is the stream sequence
    number of the change that last flipped it (a change delivered again, or late, flips nothing)."""

    alert_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # the alert kind (no other record of the tenant partition has one of these)
    threshold = NumberAttribute()
    project_id = UnicodeAttribute(null=True)
    state = UnicodeAttribute()
    version = NumberAttribute(default=0)
    created_at = NumberAttribute()
    created_by = UnicodeAttribute()
    changed_at = NumberAttribute(null=True)
    seen = NumberAttribute(null=True)
    kind_pk = UnicodeAttribute(null=True)  # ALERT_TIMED for the kinds a schedule evaluates
    kind_sk = UnicodeAttribute(null=True)
    by_kind = TimedAlertIndex()


class AlertCountItem(TableModel):
    """How many alerts a tenant has (sk ALERTS, outside the ALERT# range), changed in the transaction that
    adds or deletes one. Absent for a tenant whose alerts predate it: then they are counted."""

    alerts = NumberAttribute()


class EventItem(TableModel):
    """An outbox event (``tollgate.events.rules``): ``kind`` is ``event`` so that stream consumers can filter."""

    kind = UnicodeAttribute(default="event")
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    at = NumberAttribute()
    data = JSONAttribute()
    purge_at = NumberAttribute()


class LotItem(TableModel):
    lot_id = UnicodeAttribute()
    tokens = NumberAttribute()
    remaining = NumberAttribute()
    created_at = NumberAttribute()
    expires_at = NumberAttribute(null=True)
    purchase_id = UnicodeAttribute(null=True)
    grant_reason = UnicodeAttribute(null=True)
    expired = BooleanAttribute(default=False)
    expired_tokens = NumberAttribute(null=True)  # what expiry took out of the pool
    lot_kind = UnicodeAttribute(null=True)  # refill or rollover (a refill plan's lots); absent: purchase or grant
    due_shard = UnicodeAttribute(null=True)  # present only while the lot still has to be expired
    due_at = NumberAttribute(null=True)


class RefillPlanIndex(GlobalSecondaryIndex["RefillPlanItem"]):
    """``by_kind`` read for refill plans (kind_pk ``REFILL``, kind_sk the tenant id); for operators."""

    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind_pk = UnicodeAttribute(hash_key=True)
    kind_sk = UnicodeAttribute(range_key=True)


class RefillPlanItem(TableModel):
    """A tenant's recurring grant (sk REFILL): ``last_period`` (a UTC month start) is the period whose lots
    were given last, moved in the transaction that gives them, so a period is given once."""

    tenant_id = UnicodeAttribute()
    tokens = NumberAttribute()
    every = UnicodeAttribute(default="month")
    rollover_percent = NumberAttribute(default=0)
    rollover_cap = NumberAttribute(default=0)
    created_at = NumberAttribute()
    updated_by = UnicodeAttribute()
    last_period = NumberAttribute(null=True)
    last_lot_id = UnicodeAttribute(null=True)  # the refill lot of ``last_period`` (its unused part rolls over)
    kind_pk = UnicodeAttribute(null=True)
    kind_sk = UnicodeAttribute(null=True)
    by_kind = RefillPlanIndex()


class IdempotencyItem(TableModel):
    """The first answer to a request sent with an Idempotency-Key; written with the change it answers."""

    request_hash = UnicodeAttribute()
    status_code = NumberAttribute()
    response = JSONAttribute()
    created_at = NumberAttribute()


class CatalogItem(TableModel):
    """A token pack (sk PACK#…) or a feature (sk FEATURE#…) of the vendor's catalog."""

    item_id = UnicodeAttribute()
    name = UnicodeAttribute(default="")
    tokens = NumberAttribute(null=True)
    price = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    valid_days = NumberAttribute(null=True)
    stripe_price = UnicodeAttribute(null=True)
    cost_per_use = NumberAttribute(null=True)
    cost_per_hour = NumberAttribute(null=True)
    active = BooleanAttribute(default=True)


class PurchaseReviewIndex(GlobalSecondaryIndex["PurchaseItem"]):
    """``by_kind`` read for purchases held for review (kind_pk ``REVIEW``, kind_sk the purchase id)."""

    class Meta:
        index_name = "by_kind"
        projection = AllProjection()

    kind_pk = UnicodeAttribute(hash_key=True)
    kind_sk = UnicodeAttribute(range_key=True)


class PurchaseItem(TableModel):
    """A purchase (sk PURCHASE#…): the procurement ticket. ``version`` makes every change a compare-and-set."""

    purchase_id = UnicodeAttribute()
    buyer_key_id = UnicodeAttribute()
    pack_id = UnicodeAttribute()
    quantity = NumberAttribute()
    tokens = NumberAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    valid_days = NumberAttribute(null=True)
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    po_number = UnicodeAttribute(null=True)
    project_id = UnicodeAttribute(null=True)
    stripe_session_id = UnicodeAttribute(null=True)
    checkout_url = UnicodeAttribute(null=True)
    payment_intent_id = UnicodeAttribute(null=True)
    charge_id = UnicodeAttribute(null=True)
    lot_id = UnicodeAttribute(null=True)
    paid_at = NumberAttribute(null=True)
    failed_at = NumberAttribute(null=True)
    refunded_tokens = NumberAttribute(default=0)
    amount_refunded = NumberAttribute(default=0)
    taken_back = NumberAttribute(default=0)
    disputed_at = NumberAttribute(null=True)
    dispute_taken = NumberAttribute(default=0)
    dispute_won_at = NumberAttribute(null=True)
    paid_amount = NumberAttribute(null=True)
    paid_currency = UnicodeAttribute(null=True)
    review_note = UnicodeAttribute(null=True)
    reviewed_at = NumberAttribute(null=True)
    version = NumberAttribute(default=0)
    kind_pk = UnicodeAttribute(null=True)  # REVIEW once held for review: operators find it by id alone
    kind_sk = UnicodeAttribute(null=True)
    by_kind = PurchaseReviewIndex()


class StripeEventItem(TableModel):
    """A Stripe event already applied (pk STRIPE_EVENT#<id>); written in the transaction of its change."""

    event_type = UnicodeAttribute()
    recorded_at = NumberAttribute()


class LeaseItem(TableModel):
    """Tokens held for a time-limited run (sk LEASE#…); due_shard/due_at only while it is open."""

    lease_id = UnicodeAttribute()
    feature = UnicodeAttribute()
    cost_per_hour = NumberAttribute()
    started_at = NumberAttribute()
    expires_at = NumberAttribute()
    duration_s = NumberAttribute()
    reserved = NumberAttribute()
    status = UnicodeAttribute()
    actor = UnicodeAttribute()
    project_id = UnicodeAttribute(null=True)
    environment = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    ended_at = NumberAttribute(null=True)
    charged = NumberAttribute(null=True)
    charge_entry_id = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)


class AllowanceItem(TableModel):
    """A block of tokens held for a busy process (sk ALLOWANCE#…); due_shard/due_at only while it is open."""

    allowance_id = UnicodeAttribute()
    feature = UnicodeAttribute()
    cost_per_use = NumberAttribute()
    block = NumberAttribute()
    held = NumberAttribute()
    used = NumberAttribute()
    charged = NumberAttribute()
    opened_at = NumberAttribute()
    expires_at = NumberAttribute()
    ttl_s = NumberAttribute()
    status = UnicodeAttribute()
    actor = UnicodeAttribute()
    version = NumberAttribute()
    project_id = UnicodeAttribute(null=True)
    environment = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)


class PolicyItem(TableModel):
    """The tenant's action policy (sk POLICY): the document PUT accepted, and its version (1, 2, …; an
    absent item is version 0). Every write is conditioned on the version it replaces."""

    version = NumberAttribute()
    document = JSONAttribute()
    updated_at = NumberAttribute()
    updated_by = UnicodeAttribute()


class DecisionHeadItem(TableModel):
    """The decision log's head (sk DECISIONS): the last record's seq and hash. Appending a record moves it,
    conditioned on the seq it had, in the transaction of the change the record tells."""

    seq = NumberAttribute()
    hash = UnicodeAttribute()


class DecisionRecordItem(TableModel):
    """One decision record (pk T#<tenant>#D, sk the seq on 12 digits), as SPEC.md defines it."""

    seq = NumberAttribute()
    at = NumberAttribute()
    actor = UnicodeAttribute()
    event = UnicodeAttribute()
    action_id = UnicodeAttribute(null=True)
    rule_id = UnicodeAttribute(null=True)
    policy_version = NumberAttribute(null=True)
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()


class ActionItem(TableModel):
    """A just-in-time action (sk ACTION#…); due_shard/due_at only while the clock can still change it
    (pending: escalation and timeout; approved: the grant lapsing). ``version`` makes every change a
    compare-and-set, so two approvers racing for the last approval resolve it exactly once."""

    action_id = UnicodeAttribute()
    name = UnicodeAttribute()
    requester = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = NumberAttribute()
    rule_id = UnicodeAttribute(null=True)
    policy_version = NumberAttribute()
    feature = UnicodeAttribute(null=True)
    quantity = NumberAttribute(default=0)
    cost_per_use = NumberAttribute(default=0)
    held = NumberAttribute(default=0)
    charged = NumberAttribute(default=0)
    project_id = UnicodeAttribute(null=True)
    environment = UnicodeAttribute(null=True)
    region = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    attributes = JSONAttribute(null=True)
    terms = JSONAttribute(null=True)
    expires_at = NumberAttribute(null=True)
    escalates_at = NumberAttribute(null=True)
    escalated = BooleanAttribute(default=False)
    grant_expires_at = NumberAttribute(null=True)
    reviews = JSONAttribute(null=True)
    break_glass = BooleanAttribute(default=False)
    resolved_at = NumberAttribute(null=True)
    entry_id = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    due_shard = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)


class TopUpItem(TableModel):
    """A tenant's auto top-up (sk TOPUP): the settings, this month's purchases (``month`` is its UTC month
    start; ``purchases`` counts the top-ups started in it that did not fail), the consecutive failures, and
    ``version``: every change is a compare-and-set on it, so a crossing starts one purchase and a failure
    is counted once."""

    enabled = BooleanAttribute(default=False)
    threshold = NumberAttribute()
    pack_id = UnicodeAttribute()
    quantity = NumberAttribute(default=1)
    monthly_limit = NumberAttribute()
    month = NumberAttribute(default=0)
    purchases = NumberAttribute(default=0)
    failures = NumberAttribute(default=0)
    disabled_reason = UnicodeAttribute(null=True)
    below = BooleanAttribute(default=False)  # switched on while ``available`` was below the threshold
    version = NumberAttribute(default=0)
    updated_at = NumberAttribute(default=0)
