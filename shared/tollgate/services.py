"""The composition root: builds each service once per cold start with the real adapters, importing each
service's module only when it is first asked for (a function loads what its routes use, not every service).

Handlers ask here for what they need; tests build services themselves with fakes.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from tollgate.clock import SYSTEM_CLOCK
from tollgate.ids import RANDOM_IDS
from tollgate.settings import secret

if TYPE_CHECKING:
    from tollgate.domain.action_service import ActionService
    from tollgate.domain.alerts import AlertService
    from tollgate.domain.allowances import AllowanceService
    from tollgate.domain.catalog import CatalogRepository
    from tollgate.domain.decisions import DecisionLogService
    from tollgate.domain.events import EventService
    from tollgate.domain.leases import LeaseService
    from tollgate.domain.license_keys import LicenseKeyService
    from tollgate.domain.notifier import NotifierService
    from tollgate.domain.policies import PolicyService
    from tollgate.domain.pool import PoolService
    from tollgate.domain.projects import ProjectService
    from tollgate.domain.purchases import PurchaseService
    from tollgate.domain.reports import ReportService
    from tollgate.domain.spend_policy import SpendPolicy
    from tollgate.domain.sweeper import SweeperService
    from tollgate.domain.tenants import TenantService
    from tollgate.domain.webhooks import WebhookEndpointService
    from tollgate.store.alert_stream import AlertEvaluator
    from tollgate.store.alerts import DynamoAlertRepository
    from tollgate.store.expiry import DynamoExpiry
    from tollgate.store.usage import DynamoUsageRepository
    from tollgate.store.usage_stream import UsageAggregator


@cache
def tenant_service() -> TenantService:
    from tollgate.billing.stripe_gateway import StripeGateway
    from tollgate.domain.tenants import TenantService
    from tollgate.store.tenants import DynamoTenantRepository

    return TenantService(
        tenants=DynamoTenantRepository(),
        payments=StripeGateway(),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        pepper=lambda: secret("CREDENTIAL_PEPPER"),
    )


def default_region() -> str:
    from tollgate.settings import settings

    return settings().region


@cache
def catalog() -> CatalogRepository:
    from tollgate.store.catalog import DynamoCatalogRepository

    return DynamoCatalogRepository(SYSTEM_CLOCK)


@cache
def pool_service() -> PoolService:
    from tollgate.domain.pool import PoolService
    from tollgate.store.pool import DynamoPoolRepository

    return PoolService(
        DynamoPoolRepository(), catalog(), SYSTEM_CLOCK, RANDOM_IDS, settler=lot_settler(), policy=spend_policy()
    )


@cache
def spend_policy() -> SpendPolicy:
    """The tenant's policy on consume, leases and allowances; one cache of policies per container."""
    from tollgate.domain.spend_policy import SpendPolicy
    from tollgate.store.decisions import DynamoRefusalLog
    from tollgate.store.policy import CachedPolicySource

    return SpendPolicy(CachedPolicySource(), DynamoRefusalLog(), SYSTEM_CLOCK, default_region)


@cache
def lot_settler() -> DynamoExpiry:
    """Expires lots past their end: on demand, before a debit or reservation they block, and for the sweeper."""
    from tollgate.store.expiry import DynamoExpiry

    return DynamoExpiry(SYSTEM_CLOCK, RANDOM_IDS)


@cache
def project_service() -> ProjectService:
    from tollgate.domain.projects import ProjectService
    from tollgate.store.projects import DynamoProjectRepository

    return ProjectService(DynamoProjectRepository(), SYSTEM_CLOCK, RANDOM_IDS)


@cache
def license_key_service() -> LicenseKeyService:
    from tollgate.domain.license_keys import LicenseKeyService
    from tollgate.store.license_keys import DynamoLicenseKeyRepository
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
    from tollgate.billing.stripe_checkout import StripeCheckout
    from tollgate.billing.stripe_webhooks import StripeWebhookVerifier, webhook_secrets
    from tollgate.domain.purchases import PurchaseService
    from tollgate.logs import get_logger
    from tollgate.settings import settings
    from tollgate.store.projects import DynamoProjectRepository
    from tollgate.store.purchases import DynamoPurchaseRepository

    logger = get_logger()
    return PurchaseService(
        purchases=DynamoPurchaseRepository(),
        catalog=catalog(),
        projects=DynamoProjectRepository(),
        checkout=StripeCheckout(),
        verifier=StripeWebhookVerifier(lambda: webhook_secrets(secret("STRIPE_WEBHOOK_SECRETS"))),
        clock=SYSTEM_CLOCK,
        ids=RANDOM_IDS,
        portal_base_url=lambda: settings().portal_base_url,
        log=lambda message, fields: logger.info(message, extra=fields),
    )


@cache
def event_service() -> EventService:
    from tollgate.domain.events import EventService
    from tollgate.store.events import DynamoEventLog

    return EventService(DynamoEventLog(), SYSTEM_CLOCK)


@cache
def lease_service() -> LeaseService:
    from tollgate.domain.leases import LeaseService
    from tollgate.store.leases import DynamoLeaseRepository

    return LeaseService(
        DynamoLeaseRepository(), catalog(), SYSTEM_CLOCK, RANDOM_IDS, settler=lot_settler(), policy=spend_policy()
    )


@cache
def allowance_service() -> AllowanceService:
    from tollgate.domain.allowances import AllowanceService
    from tollgate.store.allowances import DynamoAllowanceRepository

    return AllowanceService(
        DynamoAllowanceRepository(),
        catalog(),
        SYSTEM_CLOCK,
        RANDOM_IDS,
        settler=lot_settler(),
        policy=spend_policy(),
    )


@cache
def policy_service() -> PolicyService:
    from tollgate.domain.policies import PolicyService
    from tollgate.store.policy import DynamoKeyDirectory, DynamoPolicyRepository

    return PolicyService(DynamoPolicyRepository(), DynamoKeyDirectory(), SYSTEM_CLOCK)


@cache
def decision_log() -> DecisionLogService:
    from tollgate.domain.decisions import DecisionLogService
    from tollgate.store.decisions import DynamoDecisionReader

    return DecisionLogService(DynamoDecisionReader())


@cache
def action_service() -> ActionService:
    """Actions and reviews; the tenant's policy read fresh for each decision, with the decision log's head
    in the same request (the write is conditioned on both, so a decision is never written under a policy
    changed meanwhile)."""
    from tollgate.domain.action_policy import PolicyJudge
    from tollgate.domain.action_service import ActionService
    from tollgate.store.actions import DynamoActionRepository, read_policy_and_head

    return ActionService(
        DynamoActionRepository(),
        catalog(),
        PolicyJudge(read_policy_and_head),
        SYSTEM_CLOCK,
        RANDOM_IDS,
        settler=lot_settler(),
    )


@cache
def sweeper_service() -> SweeperService:
    """Settles leases and lots past their end; the same settling code as the on-read path."""
    from tollgate.domain.sweeper import SweeperService
    from tollgate.logs import get_logger
    from tollgate.store.expiry import DynamoDueIndex
    from tollgate.store.license_keys import DynamoKeyNotices

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
    from tollgate.store.usage import DynamoUsageRepository

    return DynamoUsageRepository()


@cache
def report_service() -> ReportService:
    """Usage reports, the forecast and purchase usage (portal); reads rollups the aggregator keeps."""
    from tollgate.domain.reports import ReportService
    from tollgate.store.pool import DynamoPoolRepository
    from tollgate.store.projects import DynamoProjectRepository

    return ReportService(
        usage=usage_repository(),
        pools=DynamoPoolRepository(),
        projects=DynamoProjectRepository(),
        purchases=purchase_service(),
        clock=SYSTEM_CLOCK,
    )


@cache
def alert_repository() -> DynamoAlertRepository:
    from tollgate.store.alerts import DynamoAlertRepository

    return DynamoAlertRepository()


@cache
def alert_service() -> AlertService:
    from tollgate.domain.alerts import AlertService
    from tollgate.store.alerts import DynamoLevels

    return AlertService(alert_repository(), DynamoLevels(), SYSTEM_CLOCK, RANDOM_IDS)


@cache
def alert_evaluator() -> AlertEvaluator:
    """Flips alerts (and raises their events) from the stream's pool and project changes, and on a schedule."""
    from tollgate.domain.lots import allocate
    from tollgate.logs import get_logger
    from tollgate.store.alert_stream import AlertEvaluator, timed_levels
    from tollgate.store.alerts import DynamoLevels
    from tollgate.store.pool import DynamoPoolRepository

    logger = get_logger()
    levels, pools = DynamoLevels(), DynamoPoolRepository()

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
    from tollgate.logs import get_logger
    from tollgate.store.usage_stream import UsageAggregator

    logger = get_logger()
    return UsageAggregator(usage_repository(), lambda message, fields: logger.exception(message, extra=fields))


SWEEPER_WORKERS = 8  # settlements in flight at once within one sweep (docs/performance.md, "Sweeper")


def webhooks_allow_loopback() -> bool:
    from tollgate.settings import settings

    return settings().webhooks_allow_loopback


@cache
def webhook_endpoint_service() -> WebhookEndpointService:
    from tollgate.domain.webhooks import WebhookEndpointService
    from tollgate.store.webhooks import DynamoWebhookEndpoints
    from tollgate.webhooks.sealing import SecretBox
    from tollgate.webhooks.signing import new_secret

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

    from tollgate.domain.notifier import NotifierService
    from tollgate.store.webhooks import DynamoDeliveryStore
    from tollgate.webhooks.sealing import SecretBox
    from tollgate.webhooks.sender import WebhookSender
    from tollgate.webhooks.signing import signed_headers

    return NotifierService(
        DynamoDeliveryStore(),
        WebhookSender(allow_loopback=webhooks_allow_loopback()),
        signed_headers,
        SecretBox(),
        SYSTEM_CLOCK,
        random=random.random,
        workers=NOTIFIER_WORKERS,
    )


NOTIFIER_WORKERS = 16  # deliveries in flight at once within one batch (each waits at most 5 s)
