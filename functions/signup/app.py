"""POST /v1/tenants: a customer organisation signs itself up."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core import limits
from tollgate.core.logs import get_logger
from tollgate.edge.app import build_resolver
from tollgate.edge.refusals import answers
from tollgate.edge.views import api_key_view, tenant_view
from tollgate.tenancy.models import SignupAnswer, SignupBody
from tollgate.tenancy.service import SignupRequest

logger = get_logger()
metrics = Metrics()
app = build_resolver(logger, validation=True)

SignupKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=limits.SIGNUP_IDEMPOTENCY_KEY_MIN,
        max_length=limits.IDEMPOTENCY_KEY_MAX,
        pattern=limits.IDEMPOTENCY_KEY_PATTERN,
        description="At least 32 characters (a UUID): a replay with the same key and body answers the same "
        "tenant and owner key, secret included, so the key is the proof that the caller is the first one.",
    ),
]


@app.post("/v1/tenants", status_code=201, security=[], responses=answers(201, SignupAnswer, 400, 409), tags=["tenant"])
def sign_up(body: SignupBody, idempotency_key: SignupKey = None) -> SignupAnswer:
    request = SignupRequest(name=body.name, email=body.email, home_region=body.home_region or services.default_region())
    result = services.tenant_service().sign_up(request, idempotency_key)
    if not result.replayed:
        logger.info("tenant signed up", extra={"tenant_id": result.tenant.id})
        metrics.add_metric(name="TenantsSignedUp", unit=MetricUnit.Count, value=1)
    return SignupAnswer.model_validate(
        {
            "tenant": tenant_view(result.tenant),
            "api_key": api_key_view(result.owner_key.key, secret=result.owner_key.secret),
        }
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
