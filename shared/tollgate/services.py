"""The composition root: builds each service once per cold start with the real adapters, importing each
service's module only when it is first asked for (a function loads what its routes use, not every service).

The HTTP functions hand this module to their resolver (``tollgate.edge.app.build_resolver``): the routes
call the services through it, and the edge authenticates through ``credentials()``. Nothing in ``edge`` or
a capability imports it. Tests build services themselves with fakes, or replace one here.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from tollgate.core.clock import SYSTEM_CLOCK
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.settings import secret

if TYPE_CHECKING:
    from tollgate.approvals.rules_decisions import DecisionLogService
    from tollgate.approvals.service import ActionService
    from tollgate.approvals.service_policy import PolicyService
    from tollgate.approvals.service_spend import SpendPolicy
    from tollgate.core.models import Principal
    from tollgate.events.rules import EventService
    from tollgate.events.service_alerts import AlertService
    from tollgate.events.service_notifier import NotifierService
    from tollgate.events.service_webhooks import WebhookEndpointService
    from tollgate.events.store_alert_stream import AlertEvaluator
    from tollgate.events.store_alerts import DynamoAlertRepository
    from tollgate.holds.service_allowances import AllowanceService
    from tollgate.holds.service_leases import LeaseService
    from tollgate.keys.service import LicenseKeyService
    from tollgate.pool.service import PoolService
    from tollgate.pool.service_budgets import BudgetService
    from tollgate.pool.service_refills import RefillService
    from tollgate.pool.service_spending import Spending
    from tollgate.pool.service_sweeper import SweeperService
    from tollgate.pool.store_expiry import DynamoExpiry
    from tollgate.purchases.rules_catalog import CatalogRepository
    from tollgate.purchases.service import PurchaseService
    from tollgate.purchases.service_topup import TopUps
    from tollgate.reports.service import ReportService
    from tollgate.reports.store import DynamoUsageRepository
    from tollgate.reports.store_stream import UsageAggregator
    from tollgate.tenancy.service import TenantService
    from tollgate.tenancy.service_projects import ProjectService


@cache
def tenant_service() -> TenantService:
    from tollgate.purchases.stripe_gateway import StripeGateway
    from tollgate.tenancy.service import TenantService
    from tollgate.tenancy.store import DynamoTenantRepository

    return TenantService(
        tenants=DynamoTenantRepository(),
        payments=StripeGateway(),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        pepper=lambda: secret("CREDENTIAL_PEPPER"),
    )


class _Credentials:
    """The edge's authenticators (``tollgate.edge.auth.Credentials``), over the tenant and license key
    services as this module has them when a request comes (so a test that replaces one replaces both)."""

    def api_key(self, token: str | None) -> Principal:
        return tenant_service().authenticate(token)

    def license_key(self, token: str, region: str | None, from_memory: bool) -> Principal:
        keys = license_key_service()
        if from_memory:
            return keys.authenticate_from_memory(token, client_region=region)
        return keys.authenticate(token, client_region=region)

    def license_key_to_wind_down(self, token: str) -> Principal:
        return license_key_service().authenticate_to_wind_down(token)


_CREDENTIALS = _Credentials()


def credentials() -> _Credentials:
    """Who calls: the edge's gate asks here for every route that takes a credential."""
    return _CREDENTIALS


def default_region() -> str:
    from tollgate.core.settings import settings

    return settings().region


@cache
def catalog() -> CatalogRepository:
    from tollgate.purchases.store_catalog import DynamoCatalogRepository

    return DynamoCatalogRepository(SYSTEM_CLOCK)


@cache
def pool_service() -> PoolService:
    from tollgate.pool.service import PoolService
    from tollgate.pool.store import DynamoPoolRepository

    return PoolService(
        DynamoPoolRepository(), catalog(), SYSTEM_CLOCK, RANDOM_IDS, settler=lot_settler(), spending=spending()
    )


@cache
def spending() -> Spending:
    """The one spending pipeline (SPEC.md, "Spending: one pipeline") every consume, redemption, lease,
    allowance and action goes through."""
    from tollgate.pool.service_spending import Spending

    return Spending(spend_policy(), lot_settler(), default_region)


@cache
def spend_policy() -> SpendPolicy:
    """The tenant's policy on consume, leases and allowances; one cache of policies per container."""
    from tollgate.approvals.service_spend import SpendPolicy
    from tollgate.approvals.store_decisions import DynamoRefusalLog
    from tollgate.approvals.store_policy import CachedPolicySource

    return SpendPolicy(CachedPolicySource(), DynamoRefusalLog(), SYSTEM_CLOCK, default_region)


@cache
def lot_settler() -> DynamoExpiry:
    """Expires lots past their end: on demand, before a debit or reservation they block, and for the sweeper."""
    from tollgate.pool.store_expiry import DynamoExpiry

    return DynamoExpiry(SYSTEM_CLOCK, RANDOM_IDS, refills=refill_service().refill_due)


@cache
def refill_service() -> RefillService:
    """Refill plans: set and shown by operators, given when a period's lots have ended (read or swept)."""
    from tollgate.pool.service_refills import RefillService
    from tollgate.pool.store_refills import DynamoRefills

    return RefillService(DynamoRefills(), SYSTEM_CLOCK, RANDOM_IDS)


@cache
def project_service() -> ProjectService:
    from tollgate.tenancy.service_projects import ProjectService
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    return ProjectService(DynamoProjectRepository(), SYSTEM_CLOCK, RANDOM_IDS)


def budget_service() -> BudgetService:
    from tollgate.pool.service_budgets import BudgetService
    from tollgate.pool.store_budgets import DynamoBudgetRepository

    return BudgetService(DynamoBudgetRepository(), SYSTEM_CLOCK)


@cache
def license_key_service() -> LicenseKeyService:
    from tollgate.keys.service import LicenseKeyService
    from tollgate.keys.store import DynamoLicenseKeyRepository
    from tollgate.validation_services import license_key_reader

    return LicenseKeyService(
        keys=DynamoLicenseKeyRepository(),
        reader=license_key_reader(),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        serving_region=default_region,
    )


@cache
def purchase_service() -> PurchaseService:
    """Purchases, Stripe's webhooks and reconciliation. ``stripe`` itself loads only when a call needs it."""
    from tollgate.core.logs import get_logger
    from tollgate.core.settings import settings
    from tollgate.purchases.service import PurchaseService
    from tollgate.purchases.store import DynamoPurchaseRepository
    from tollgate.purchases.store_topup import DynamoTopUpRepository
    from tollgate.purchases.stripe_checkout import StripeCheckout
    from tollgate.purchases.stripe_topup import StripeTopUps
    from tollgate.purchases.stripe_webhooks import StripeWebhookVerifier, webhook_secrets
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    logger = get_logger()
    purchases = DynamoPurchaseRepository()
    return PurchaseService(
        purchases=purchases,
        catalog=catalog(),
        projects=DynamoProjectRepository(),
        checkout=StripeCheckout(),
        verifier=StripeWebhookVerifier(lambda: webhook_secrets(secret("STRIPE_WEBHOOK_SECRETS"))),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        portal_base_url=lambda: settings().portal_base_url,
        log=lambda message, fields: logger.info(message, extra=fields),
        topup_settings=DynamoTopUpRepository(purchases),
        cards=StripeTopUps(),
    )


def topups() -> TopUps:
    """Auto top-up (the portal's routes, the stream's crossings, the webhook's payments)."""
    found = purchase_service().topups
    if found is None:  # pragma: no cover - always wired above
        raise RuntimeError("auto top-up is not wired")
    return found


@cache
def event_service() -> EventService:
    from tollgate.events.rules import EventService
    from tollgate.events.store import DynamoEventLog

    return EventService(DynamoEventLog(), SYSTEM_CLOCK)


@cache
def lease_service() -> LeaseService:
    from tollgate.holds.service_leases import LeaseService
    from tollgate.holds.store import DynamoLeaseRepository

    return LeaseService(DynamoLeaseRepository(), catalog(), SYSTEM_CLOCK, RANDOM_IDS, spending=spending())


@cache
def allowance_service() -> AllowanceService:
    from tollgate.holds.service_allowances import AllowanceService
    from tollgate.holds.store import DynamoAllowanceRepository

    return AllowanceService(
        DynamoAllowanceRepository(),
        catalog(),
        SYSTEM_CLOCK,
        RANDOM_IDS,
        spending=spending(),
    )


@cache
def policy_service() -> PolicyService:
    from tollgate.approvals.service_policy import PolicyService
    from tollgate.approvals.store_policy import ActiveKeyDirectory, DynamoPolicyRepository
    from tollgate.keys.store import DynamoLicenseKeyRepository
    from tollgate.tenancy.store import DynamoTenantRepository

    keys = ActiveKeyDirectory(DynamoTenantRepository(), DynamoLicenseKeyRepository())
    return PolicyService(DynamoPolicyRepository(), keys, SYSTEM_CLOCK)


@cache
def decision_log() -> DecisionLogService:
    from tollgate.approvals.rules_decisions import DecisionLogService
    from tollgate.approvals.store_decisions import DynamoDecisionReader

    return DecisionLogService(DynamoDecisionReader())


@cache
def action_service() -> ActionService:
    """Actions and reviews; the tenant's policy read fresh for each decision, with the decision log's head
    in the same request (the write is conditioned on both, so a decision is never written under a policy
    changed meanwhile)."""
    from tollgate.approvals.service import ActionService
    from tollgate.approvals.service_action_policy import PolicyJudge
    from tollgate.approvals.store import DynamoActionRepository, read_policy_and_head

    return ActionService(
        DynamoActionRepository(),
        catalog(),
        PolicyJudge(read_policy_and_head),
        SYSTEM_CLOCK,
        RANDOM_IDS,
        spending=spending(),
    )


@cache
def sweeper_service() -> SweeperService:
    """Settles leases and lots past their end; the same settling code as the on-read path."""
    from tollgate.core.logs import get_logger
    from tollgate.keys.store import DynamoKeyNotices
    from tollgate.pool.service_sweeper import SweeperService
    from tollgate.pool.store_expiry import DynamoDueIndex

    logger = get_logger()  # the shared JSON logger, with credentials and signatures redacted
    return SweeperService(
        DynamoDueIndex(),
        lease_service(),
        lot_settler(),
        SYSTEM_CLOCK,
        workers=SWEEPER_WORKERS,
        log_failure=lambda message, fields: logger.exception(message, extra=fields),
        allowances=allowance_service(),
        actions=action_service(),
        key_notices=DynamoKeyNotices(SYSTEM_CLOCK),
    )


@cache
def usage_repository() -> DynamoUsageRepository:
    from tollgate.reports.store import DynamoUsageRepository

    return DynamoUsageRepository()


@cache
def report_service() -> ReportService:
    """Usage reports, the forecast and purchase usage (portal); reads rollups the aggregator keeps."""
    from tollgate.pool.store import DynamoPoolRepository
    from tollgate.reports.service import ReportService
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    return ReportService(
        usage=usage_repository(),
        pools=DynamoPoolRepository(),
        projects=DynamoProjectRepository(),
        purchases=purchase_service(),
        clock=SYSTEM_CLOCK,
    )


@cache
def alert_repository() -> DynamoAlertRepository:
    from tollgate.events.store_alerts import DynamoAlertRepository

    return DynamoAlertRepository()


@cache
def alert_service() -> AlertService:
    from tollgate.events.service_alerts import AlertService
    from tollgate.events.store_alerts import DynamoLevels
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    return AlertService(alert_repository(), DynamoLevels(DynamoProjectRepository()), SYSTEM_CLOCK, RANDOM_IDS)


@cache
def alert_evaluator() -> AlertEvaluator:
    """Flips alerts (and raises their events) from the stream's pool and project changes, and on a schedule."""
    from tollgate.core.logs import get_logger
    from tollgate.events.store_alert_stream import AlertEvaluator, timed_levels
    from tollgate.events.store_alerts import DynamoLevels
    from tollgate.pool.rules import allocate
    from tollgate.pool.store import DynamoPoolRepository
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    logger = get_logger()
    levels, pools = DynamoLevels(DynamoProjectRepository()), DynamoPoolRepository()

    def forecast_of(tenant_id: str) -> Any:
        return report_service().forecast_of(tenant_id, levels.created_at(tenant_id))

    def lots_of(tenant_id: str) -> Any:
        return allocate(pools.lots(tenant_id), pools.pool(tenant_id).balance)

    return AlertEvaluator(
        alert_repository(),
        SYSTEM_CLOCK,
        lambda message, fields: logger.exception(message, extra=fields),
        timed_levels(forecast_of, lots_of, SYSTEM_CLOCK),
    )


@cache
def usage_aggregator() -> UsageAggregator:
    """Counts the stream's spending ledger entries into the usage rollups, exactly once each."""
    from tollgate.core.logs import get_logger
    from tollgate.reports.store_stream import UsageAggregator

    logger = get_logger()
    return UsageAggregator(usage_repository(), lambda message, fields: logger.exception(message, extra=fields))


SWEEPER_WORKERS = 8  # settlements in flight at once within one sweep (docs/performance.md, "Sweeper")


def webhooks_allow_loopback() -> bool:
    from tollgate.core.settings import settings

    return settings().webhooks_allow_loopback


@cache
def webhook_endpoint_service() -> WebhookEndpointService:
    from tollgate.events.sealing import SecretBox
    from tollgate.events.service_webhooks import WebhookEndpointService
    from tollgate.events.signing import new_secret
    from tollgate.events.store_webhooks import DynamoWebhookEndpoints

    return WebhookEndpointService(
        DynamoWebhookEndpoints(),
        SecretBox(),
        SYSTEM_CLOCK,
        RANDOM_IDS,
        new_secret=new_secret,
        allow_loopback_http=webhooks_allow_loopback,
    )


@cache
def notifier_service() -> NotifierService:
    """Delivers outbox events to webhook endpoints (stream) and retries what failed (schedule)."""
    import random

    from tollgate.core.settings import settings
    from tollgate.events.sealing import SecretBox
    from tollgate.events.sender import WebhookSender
    from tollgate.events.service_notifier import NotifierService
    from tollgate.events.signing import signed_headers
    from tollgate.events.store_deliveries import DynamoDeliveryStore

    return NotifierService(
        DynamoDeliveryStore(),
        WebhookSender(allow_loopback=webhooks_allow_loopback(), total_timeout_s=settings().webhook_attempt_s),
        signed_headers,
        SecretBox(),
        SYSTEM_CLOCK,
        random=random.random,
        workers=NOTIFIER_WORKERS,
    )


NOTIFIER_WORKERS = 16  # deliveries in flight at once within one batch (each waits at most 5 s)
