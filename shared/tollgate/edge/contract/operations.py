"""What the document says of each operation for people: its ``operationId`` (a verb), its summary and its
description. Plain data, read at build time only (``python -m infra.contract``).

Who may call a route is not written here: the document derives it from the access the route states where it
is registered (``CapabilityRouter``'s ``permission=``) and the one permission matrix
(``tollgate.core.roles``), and appends it to the description (``tollgate.edge.contract.access``).

A new route needs an entry here: ``tests/unit/test_contract_document.py`` names every route without one.
Keys are ``METHOD path`` as the document writes the path (its parameters named as the route names them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Operation:
    """``id``: the operationId, a verb in camelCase (``listLedgerEntries``); ``summary``: one line, no
    full stop needed; ``description``: what it does and answers, for a person trying it. ``required_headers``:
    headers the server refuses the call without although its parser takes them as optional (it answers a
    status of its own, e.g. 428 without If-Match). ``answer_headers``: headers of the success answer."""

    id: str
    summary: str
    description: str
    required_headers: tuple[str, ...] = ()
    answer_headers: dict[str, dict[str, Any]] = field(default_factory=dict)


ETAG: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The policy\'s version as an entity tag ("3"): send it back as `If-Match` to replace it.',
        "schema": {"type": "string", "examples": ['"3"']},
    }
}

OPERATIONS: dict[str, Operation] = {
    # tenancy
    "POST /v1/tenants": Operation(
        "signUp",
        "Sign a customer organisation up",
        "Creates the tenant, its Stripe customer and its first API key (role owner), whose secret is shown "
        "once. Send an `Idempotency-Key` of at least 32 characters (a UUID) to make a retry safe: a replay "
        "repeats the first answer, secret included.",
    ),
    "GET /v1/tenant": Operation(
        "getTenant", "Read the tenant", "The calling tenant's profile, status and home region."
    ),
    "POST /v1/api-keys": Operation(
        "createApiKey",
        "Create an API key",
        "A new principal of the tenant with one role; its secret is shown once, in this answer. Only an owner "
        "creates owners; admins create every other role.",
    ),
    "GET /v1/api-keys": Operation("listApiKeys", "List API keys", "The tenant's API keys, without their secrets."),
    "DELETE /v1/api-keys/{key_id}": Operation(
        "revokeApiKey", "Revoke an API key", "The key is refused from its next call on."
    ),
    "POST /v1/projects": Operation(
        "createProject", "Create a project", "A team or environment that license keys and budgets can name."
    ),
    "GET /v1/projects": Operation("listProjects", "List projects", "The tenant's projects with their budgets."),
    "PATCH /v1/projects/{project_id}": Operation(
        "updateProject", "Change a project", "Renames a project or sets its token budget (null removes it)."
    ),
    # budgets
    "GET /v1/budgets": Operation(
        "listBudgets",
        "List budgets at every level",
        "Each budget level this tenant has (`tenant`, `project:<id>`, `environment:<project_id>:<name>`, "
        "`key:<key_id>`) with its limit, period, used, held and left, and when a monthly one resets. A spend is "
        "charged against every level that applies; the tightest decides.",
    ),
    "PUT /v1/budgets/{scope}": Operation(
        "setBudget",
        "Set a budget",
        "Sets the limit and period (`none` or `month`, UTC; absent means `none`) of one level. A project's "
        "budget is the same one `PATCH /v1/projects/{id}` sets.",
    ),
    "DELETE /v1/budgets/{scope}": Operation(
        "removeBudget", "Remove a budget", "The level keeps counting what is used and held, with no limit."
    ),
    # auto top-up
    "POST /v1/payment-methods/setup": Operation(
        "setupPaymentMethod",
        "Save a card",
        "A Stripe Checkout Session in setup mode: the buyer saves a card there for auto top-up.",
    ),
    "GET /v1/payment-methods": Operation(
        "listPaymentMethods", "List saved cards", "The tenant's saved cards; the default one pays auto top-ups."
    ),
    "GET /v1/auto-top-up": Operation(
        "getAutoTopUp",
        "Read auto top-up",
        "The settings, the card it pays with, this month's top-ups, the consecutive failures, and why it "
        "switched itself off if it did.",
    ),
    "PUT /v1/auto-top-up": Operation(
        "setAutoTopUp",
        "Set auto top-up",
        "When `available` falls below `threshold`, one off-session payment buys `quantity` × `pack_id`, once per "
        "crossing and at most `monthly_limit` times a UTC month. Enabling needs a saved card (409 otherwise); "
        "enabling while already below the threshold buys at once.",
    ),
    # purchases
    "GET /v1/catalog": Operation(
        "getCatalog", "Read the catalog", "The token packs on sale and the features with their costs."
    ),
    "POST /v1/purchases": Operation(
        "createPurchase",
        "Buy tokens",
        "Opens a Stripe Checkout Session for `quantity` packs and answers its address; the tokens arrive when "
        "Stripe reports the payment. Idempotent per `Idempotency-Key`.",
    ),
    "GET /v1/purchases": Operation(
        "listPurchases", "List purchases", "Every purchase record (procurement ticket), newest first."
    ),
    "GET /v1/purchases/{purchase_id}": Operation(
        "getPurchase", "Read a purchase", "One purchase: pending, paid, failed, refunded, disputed or in review."
    ),
    "POST /v1/stripe/webhook": Operation(
        "receiveStripeEvent",
        "Receive a Stripe event",
        "Stripe's events, verified against the raw body and applied exactly once. Authenticated by the "
        "`Stripe-Signature` header (an HMAC of the raw body), not a bearer key.",
    ),
    # pool
    "GET /v1/balance": Operation(
        "getBalance",
        "Read the balance",
        "The pool's balance, what holds reserve, what is available, and the lots with their expiry.",
    ),
    "GET /v1/ledger": Operation(
        "listLedgerEntries", "List ledger entries", "Every credit and debit of the pool, newest first, by page."
    ),
    # license keys and validation
    "POST /v1/keys": Operation(
        "createLicenseKey",
        "Create a license key",
        "A key for the vendor SDK, scoped to regions (`*` for all), features, a project and an environment, "
        "with an optional expiry; its secret is shown once, in this answer.",
    ),
    "GET /v1/keys": Operation("listLicenseKeys", "List license keys", "The tenant's license keys, without secrets."),
    "DELETE /v1/keys/{key_id}": Operation(
        "revokeLicenseKey", "Revoke a license key", "Validation and spending refuse the key from its next call on."
    ),
    "POST /v1/keys/{key_id}/rotate": Operation(
        "rotateLicenseKey", "Rotate a license key", "A new secret for the same key; the old one stops working."
    ),
    "POST /v1/validate": Operation(
        "validateLicenseKey",
        "Validate a license key",
        "Answers 200 for any key that parses, with `valid`, one `code` and an Ed25519-signed receipt the SDK "
        "can check offline with the JWKS.",
    ),
    "GET /v1/.well-known/jwks.json": Operation(
        "getReceiptKeys", "Read the receipt keys", "The public keys (a JWKS) that sign validation receipts."
    ),
    # spending
    "POST /v1/consume": Operation(
        "consume",
        "Consume tokens",
        "Charges `cost_per_use × quantity` of a feature at once, exactly once per `Idempotency-Key` (a retry "
        "replays the first answer). 402 when the pool or a budget cannot cover it. With `action_id`, redeems "
        "an approved action from its hold.",
    ),
    "POST /v1/leases": Operation(
        "openLease",
        "Open a lease",
        "Holds a feature's hourly cost for `duration_s` while a program runs; heartbeat to keep it, "
        "delete it to check in and pay for the time it ran.",
    ),
    "POST /v1/leases/{lease_id}/heartbeat": Operation(
        "heartbeatLease", "Keep a lease alive", "Keeps the lease open, and with `extend_s` holds more time."
    ),
    "DELETE /v1/leases/{lease_id}": Operation(
        "closeLease",
        "Check a lease in",
        "Ends the lease and charges the time it ran; never refused, even for a suspended tenant or a revoked key.",
    ),
    "POST /v1/allowances": Operation(
        "openAllowance",
        "Open an allowance",
        "Holds a block of tokens that the SDK spends in process; settle what was used.",
    ),
    "POST /v1/allowances/{allowance_id}/settle": Operation(
        "settleAllowance",
        "Settle an allowance",
        "Reports the uses so far (cumulative) and charges them; `final` ends the allowance, `renew` holds a "
        "new block in the same call.",
    ),
    # reports
    "GET /v1/usage": Operation(
        "getUsage",
        "Report usage",
        "Spending over a range of UTC days (both inclusive; the last 30 days by default), by day or month, "
        "grouped by feature, project and key. Totals equal the ledger's spending over the range. "
        "`Accept: text/csv` answers CSV here too; `GET /v1/usage.csv` is the CSV report's own route.",
    ),
    "GET /v1/usage.csv": Operation(
        "getUsageCsv",
        "Report usage as CSV",
        "The same report as `GET /v1/usage`, as CSV (RFC 4180, a header line), for a spreadsheet.",
    ),
    "GET /v1/usage/forecast": Operation(
        "getForecast",
        "Forecast depletion",
        "Burn rate over the last 7 and 30 days, when `available` runs out, tokens per lot projected to "
        "expire unused, and each project's budget depletion date.",
    ),
    "GET /v1/purchases/{purchase_id}/usage": Operation(
        "getPurchaseUsage",
        "Report a purchase's usage",
        "What became of one purchase's tokens: consumed (in burn order), expired, taken back and remaining.",
    ),
    # events, alerts, webhooks
    "GET /v1/events": Operation(
        "listEvents",
        "List events",
        "The tenant's events of the last 30 days, newest first; the payloads are described under `webhooks`.",
    ),
    "POST /v1/alerts": Operation(
        "createAlert",
        "Create an alert",
        "A threshold that raises an event once when crossed and once when it recovers.",
    ),
    "GET /v1/alerts": Operation("listAlerts", "List alerts", "The tenant's alerts and their state."),
    "DELETE /v1/alerts/{alert_id}": Operation("deleteAlert", "Delete an alert", "The alert raises no more events."),
    "POST /v1/webhook-endpoints": Operation(
        "createWebhookEndpoint",
        "Create a webhook endpoint",
        "An `https` address that receives the events it names, signed per Standard Webhooks; the `whsec_…` "
        "secret is shown once, in this answer.",
    ),
    "GET /v1/webhook-endpoints": Operation(
        "listWebhookEndpoints", "List webhook endpoints", "The tenant's endpoints, without their secrets."
    ),
    "GET /v1/webhook-endpoints/{endpoint_id}": Operation(
        "getWebhookEndpoint", "Read a webhook endpoint", "One endpoint and its health."
    ),
    "DELETE /v1/webhook-endpoints/{endpoint_id}": Operation(
        "deleteWebhookEndpoint", "Delete a webhook endpoint", "Nothing more is delivered to it."
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/test": Operation(
        "sendTestEvent", "Send a test event", "A `webhook.test` event, delivered to this endpoint only."
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret": Operation(
        "rotateWebhookSecret",
        "Rotate a webhook secret",
        "A new signing secret, shown once; the previous one keeps signing for a while so receivers can switch.",
    ),
    "POST /v1/webhook-endpoints/{endpoint_id}/enable": Operation(
        "enableWebhookEndpoint",
        "Enable a disabled webhook endpoint",
        "Delivers to an endpoint again after it was disabled for five days of failure, keeping its delivery "
        "history; on an enabled endpoint it changes nothing.",
    ),
    "GET /v1/webhook-endpoints/{endpoint_id}/deliveries": Operation(
        "listWebhookDeliveries", "List delivery attempts", "Every attempt to deliver to this endpoint, newest first."
    ),
    # approvals
    "GET /v1/policy": Operation(
        "getPolicy",
        "Read the action policy",
        "The tenant's policy; a new tenant's is version 0 with no rules. The `ETag` header carries the version "
        "to send back as `If-Match`.",
        answer_headers=ETAG,
    ),
    "PUT /v1/policy": Operation(
        "replacePolicy",
        "Replace the action policy",
        "Replaces the whole policy. `If-Match` must name the version it replaces (GET's `ETag`): without it "
        "the answer is 428, with a stale one 412.",
        required_headers=("If-Match",),
        answer_headers=ETAG,
    ),
    "POST /v1/policy/simulate": Operation(
        "simulatePolicy",
        "Simulate the policy",
        "What the policy would decide on a request, and which rule matched and why; nothing is written.",
    ),
    "GET /v1/decisions": Operation(
        "listDecisions",
        "List decision records",
        "The hash-chained decision log, oldest first (the chain's order), by page.",
    ),
    "GET /v1/decisions/export": Operation(
        "exportDecisions",
        "Export the decision log",
        "Every decision record as JSON Lines (`application/x-ndjson`), oldest first, to verify the chain.",
    ),
    "POST /v1/actions": Operation(
        "requestAction",
        "Ask before acting",
        "Evaluates the action against the tenant's policy now: 200 approved, 202 pending (sent to the "
        "approvers, its tokens held), 403 denied, 402 when its tokens cannot be held.",
    ),
    "GET /v1/actions": Operation(
        "listActions",
        "List actions",
        "Actions the caller may see; `status=pending&reviewable=true` is an approver's queue.",
    ),
    "GET /v1/actions/{action_id}": Operation("getAction", "Read an action", "One action with its reviews."),
    "DELETE /v1/actions/{action_id}": Operation(
        "cancelAction",
        "Cancel an action",
        "Cancels a pending or approved action and releases its hold; never refused to its requester.",
    ),
    "POST /v1/actions/{action_id}/reviews": Operation(
        "reviewAction",
        "Review an action",
        "Approve or deny, as one of the approvers the action's rule names; the requester never reviews its own.",
    ),
    # the contract
    "GET /v1/openapi.json": Operation(
        "getOpenApiDocument", "Read this document", "The OpenAPI 3.1 document of every route; public and cacheable."
    ),
}
