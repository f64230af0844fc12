"""Every key of the single table is built here, and every tenant-owned key from a tenant id that the
caller got from an authenticated principal. Layout (pk / sk):

    T#<tenant>      TENANT                       profile, status and the token pool
    T#<tenant>      APIKEY#<key>                 portal credential (hash only)
    T#<tenant>      LKEY#<key>                   license key (hash only)
    T#<tenant>      PROJECT#<project>            project and its budget
    T#<tenant>      BUDGET#<scope>               an environment's budget level (a key's is on its LKEY# item)
    T#<tenant>      LOT#<lot>                    tokens credited together
    T#<tenant>      PURCHASE#<purchase>          the procurement ticket
    T#<tenant>      LEASE#<lease>                tokens held for a time-limited run
    T#<tenant>      ALLOWANCE#<allowance>        a block of tokens held for a busy process
    T#<tenant>      ACTION#<action>              a just-in-time action (pending and approved ones hold tokens)
    T#<tenant>      IDEM#<scope>#<key>           an idempotent answer
    T#<tenant>      ALERT#<alert>                a threshold that raises events (state armed or fired)
    T#<tenant>      WHEP#<endpoint>              a webhook endpoint (its secret sealed, never in clear)
    T#<tenant>      WHDL#<endpoint>#<event>      one event's delivery to one endpoint, over its attempts
    T#<tenant>#W    <endpoint>#<at>#<attempt>    webhook delivery attempts, per endpoint, time-ordered
    T#<tenant>#L    <created>#<entry>            ledger entries, in their own partition, time-ordered
    T#<tenant>#U    USAGE                        usage rollups: the generation reports read
    T#<tenant>#U    R#<gen>#<day>#<f>#<p>#<k>    a usage rollup: one UTC day, feature, project, key
    T#<tenant>#U    M#<gen>#<entry>              a ledger entry already counted into generation <gen>
    T#<tenant>      POLICY                       the action policy (one per tenant, versioned)
    T#<tenant>      REFILL                       the tenant's refill plan (a recurring grant)
    T#<tenant>      DECISIONS                    the decision log's head: last seq and hash
    T#<tenant>#D    <seq:012d>                   decision records, gapless and hash-chained
    T#<tenant>#E    <at>#<event>                 outbox events, time-ordered (30 days, then TTL)
    CATALOG         PACK#<id> / FEATURE#<id>     the vendor's catalog
    STRIPE_EVENT#<id> EVENT                      a Stripe event already applied

GSI ``by_kind`` (kind_pk, kind_sk) lists records of a kind across tenants (operators only): tenants
(``TENANT``) and purchases ever held for review (``REVIEW``, kind_sk the purchase id).
GSI ``by_due`` (due_shard, due_at) holds only what will expire, so the sweeper reads what is due (shard
``DUE``), and webhook deliveries waiting for their next attempt (shard ``WEBHOOK``), for the notifier.
"""

from __future__ import annotations

from tollgate.core.errors import NotFound
from tollgate.core.limits import is_id

# The prefix of each kind of id a path may name (``tollgate.core.ids``). A key is never built from an id of
# another shape: that is a 404, as for an absent record, before any DynamoDB call (SPEC.md, "Bad input").
API_KEY_ID = "ak"
LICENSE_KEY_ID = "lk"
PROJECT_ID = "pj"
PURCHASE_ID = "pu"
LEASE_ID = "lease"
ALLOWANCE_ID = "al"
ALERT_ID = "alr"
ACTION_ID = "act"
WEBHOOK_ENDPOINT_ID = "we"


def _id(value: str, prefix: str, kind: str) -> str:
    if not isinstance(value, str) or not is_id(value, prefix):
        raise NotFound(f"no such {kind}")  # the value is not echoed: it may be a kilobyte of anything
    return value


TENANT_SK = "TENANT"
CATALOG_PK = "CATALOG"
KIND_TENANT = "TENANT"
KIND_REVIEW = "REVIEW"  # by_kind: purchases held for an operator's review (kind_sk: the purchase id)
DUE_SHARD = "DUE"
WEBHOOK_DUE_SHARD = "WEBHOOK"


def tenant_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def ledger_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#L"


POLICY_SK = "POLICY"
REFILL_SK = "REFILL"
KIND_REFILL = "REFILL"  # by_kind: refill plans (kind_sk: the tenant id)
DECISIONS_SK = "DECISIONS"


def decisions_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#D"


def decision_sk(seq: int) -> str:
    return f"{seq:012d}"


def ledger_sk(created_at: int, entry_id: str) -> str:
    return f"{created_at:012d}#{entry_id}"


USAGE_META_SK = "USAGE"
USAGE_ROLLUP_PREFIX = "R#"


def usage_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#U"


def usage_rollup_prefix(generation: int) -> str:
    return f"{USAGE_ROLLUP_PREFIX}{generation:06d}#"


def usage_rollup_sk(generation: int, day: str, feature: str, project_id: str | None, key_id: str | None) -> str:
    return f"{usage_rollup_prefix(generation)}{day}#{feature}#{project_id or '-'}#{key_id or '-'}"


def usage_mark_sk(generation: int, entry_id: str) -> str:
    return f"M#{generation:06d}#{entry_id}"


def tenant_of_ledger(pk: str) -> str | None:
    """The tenant of a ledger partition key (``T#<tenant>#L``), else None; for the usage aggregator."""
    if pk.startswith("T#") and pk.endswith("#L") and pk.count("#") == 2:
        return pk[2:-2] or None
    return None


def events_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#E"


def event_sk(at: int, event_id: str) -> str:
    return f"{at:012d}#{event_id}"


def event_sk_from(at: int) -> str:
    """The first sort key at or after ``at`` (a listing's lower bound)."""
    return f"{at:012d}#"


def api_key_sk(key_id: str) -> str:
    return f"APIKEY#{_id(key_id, API_KEY_ID, 'API key')}"


LICENSE_KEY_SK_PREFIX = "LKEY#"


def license_key_sk(key_id: str) -> str:
    return f"{LICENSE_KEY_SK_PREFIX}{_id(key_id, LICENSE_KEY_ID, 'license key')}"


def project_sk(project_id: str) -> str:
    return f"PROJECT#{_id(project_id, PROJECT_ID, 'project')}"


BUDGET_PREFIX = "BUDGET#"


def budget_sk(scope: str) -> str:
    """An environment's or a license key's budget level, by its scope string (checked by the caller)."""
    return f"{BUDGET_PREFIX}{scope}"


def lot_sk(lot_id: str) -> str:
    return f"LOT#{lot_id}"


def purchase_sk(purchase_id: str) -> str:
    return f"PURCHASE#{_id(purchase_id, PURCHASE_ID, 'purchase')}"


def lease_sk(lease_id: str) -> str:
    return f"LEASE#{_id(lease_id, LEASE_ID, 'lease')}"


def allowance_sk(allowance_id: str) -> str:
    return f"{ALLOWANCE_SK_PREFIX}{_id(allowance_id, ALLOWANCE_ID, 'allowance')}"


ALERT_SK_PREFIX = "ALERT#"
ALERT_COUNT_SK = "ALERTS"  # how many alerts the tenant has (outside the ALERT# range)
KIND_TIMED_ALERT = "ALERT_TIMED"  # by_kind: alerts evaluated on a schedule (kind_sk: tenant#alert)


def alert_sk(alert_id: str) -> str:
    return f"{ALERT_SK_PREFIX}{_id(alert_id, ALERT_ID, 'alert')}"


def timed_alert_kind_sk(tenant_id: str, alert_id: str) -> str:
    return f"{tenant_id}#{alert_id}"


def action_sk(action_id: str) -> str:
    return f"{ACTION_SK_PREFIX}{_id(action_id, ACTION_ID, 'action')}"


def idempotency_sk(scope: str, key: str) -> str:
    return f"IDEM#{scope}#{key}"


def pack_sk(pack_id: str) -> str:
    return f"PACK#{pack_id}"


def feature_sk(feature_id: str) -> str:
    return f"FEATURE#{feature_id}"


def stripe_event_pk(event_id: str) -> str:
    return f"STRIPE_EVENT#{event_id}"


def tenant_kind_sk(created_at: int, tenant_id: str) -> str:
    return f"{created_at:012d}#{tenant_id}"


STRIPE_EVENT_SK = "EVENT"
PURCHASE_SK_PREFIX = "PURCHASE#"


LEASE_SK_PREFIX = "LEASE#"
ALLOWANCE_SK_PREFIX = "ALLOWANCE#"
ACTION_SK_PREFIX = "ACTION#"
LOT_SK_PREFIX = "LOT#"


def tenant_of(pk: str) -> str:
    """The tenant id in a tenant partition key (``T#<tenant>``); for the sweeper's reads of ``by_due``."""
    if not pk.startswith("T#") or pk.count("#") != 1:
        raise ValueError(f"not a tenant partition key: {pk!r}")
    return pk[2:]


WEBHOOK_ENDPOINT_SK_PREFIX = "WHEP#"
WEBHOOK_DELIVERY_SK_PREFIX = "WHDL#"
WEBHOOK_ENDPOINT_COUNT_SK = "WHEPS"  # how many endpoints the tenant has (outside the WHEP# range)


def webhook_endpoint_sk(endpoint_id: str) -> str:
    return f"{WEBHOOK_ENDPOINT_SK_PREFIX}{_id(endpoint_id, WEBHOOK_ENDPOINT_ID, 'webhook endpoint')}"


def webhook_delivery_sk(endpoint_id: str, event_id: str) -> str:
    return f"{WEBHOOK_DELIVERY_SK_PREFIX}{endpoint_id}#{event_id}"


def webhook_delivery_of(sk: str) -> tuple[str, str]:
    """(endpoint id, event id) of a delivery's sort key; for the notifier's reads of ``by_due``."""
    if not sk.startswith(WEBHOOK_DELIVERY_SK_PREFIX) or sk.count("#") != 2:
        raise ValueError(f"not a webhook delivery sort key: {sk!r}")
    _, endpoint_id, event_id = sk.split("#")
    return endpoint_id, event_id


def webhook_attempts_pk(tenant_id: str) -> str:
    return f"T#{tenant_id}#W"


def webhook_attempt_sk(endpoint_id: str, at: int, attempt_id: str) -> str:
    return f"{endpoint_id}#{at:012d}#{attempt_id}"


TOPUP_SK = "TOPUP"
