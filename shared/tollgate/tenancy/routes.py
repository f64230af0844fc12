"""The tenant's routes: signing up (the signup function), and the tenant, its API keys and its projects
(the portal). Each route states its permission where it is registered (``tollgate.edge.routing``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Protocol

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.metrics import MetricUnit

from tollgate.core import limits
from tollgate.core.errors import Forbidden
from tollgate.core.logs import get_logger
from tollgate.core.roles import PERMISSIONS, Permission
from tollgate.edge.refusals import answers
from tollgate.edge.routing import PUBLIC, CapabilityRouter, principal
from tollgate.edge.views import api_key_view, project_view, tenant_view
from tollgate.tenancy.models import (
    ApiKeyAnswer,
    ApiKeyBody,
    ApiKeysAnswer,
    NewApiKeyAnswer,
    SignupAnswer,
    SignupBody,
    TenantAnswer,
)
from tollgate.tenancy.models_projects import ProjectAnswer, ProjectBody, ProjectChanges, ProjectsAnswer
from tollgate.tenancy.service import SignupRequest
from tollgate.tenancy.service_projects import UNSET

if TYPE_CHECKING:
    from tollgate.tenancy.service import TenantService
    from tollgate.tenancy.service_projects import ProjectService


class TenancyServices(Protocol):
    def tenant_service(self) -> TenantService: ...
    def project_service(self) -> ProjectService: ...
    def default_region(self) -> str: ...


signup: CapabilityRouter[TenancyServices] = CapabilityRouter()
router: CapabilityRouter[TenancyServices] = CapabilityRouter()
logger = get_logger()
metrics = Metrics()  # Powertools' metrics are one set per process: the function's handler flushes them

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


@signup.post(
    "/v1/tenants", permission=PUBLIC, status_code=201, responses=answers(201, SignupAnswer, 400, 409), tags=["tenant"]
)
def sign_up(body: SignupBody, idempotency_key: SignupKey = None) -> SignupAnswer:
    services = signup.services
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


@router.get(
    "/v1/tenant", permission=Permission.READ_TENANT, responses=answers(200, TenantAnswer, 401, 403), tags=["tenant"]
)
def get_tenant() -> TenantAnswer:
    caller = principal()
    if caller.role is None:  # the gate admits API keys only (READ_TENANT); fail closed all the same
        raise Forbidden("only an API key has a profile to show")
    permissions = sorted(permission.value for permission in PERMISSIONS[caller.role])
    return TenantAnswer.model_validate(
        {
            "tenant": tenant_view(caller.tenant),
            "caller": {"key_id": caller.key_id, "role": caller.role, "permissions": permissions},
        }
    )


@router.post(
    "/v1/api-keys",
    permission=Permission.MANAGE_API_KEYS,
    status_code=201,
    responses=answers(201, NewApiKeyAnswer, 400, 401, 403),
    tags=["tenant"],
)
def create_api_key(body: ApiKeyBody) -> NewApiKeyAnswer:
    issued = router.services.tenant_service().create_api_key(principal(), body.name, body.role)
    return NewApiKeyAnswer.model_validate({"api_key": api_key_view(issued.key, secret=issued.secret)})


@router.get(
    "/v1/api-keys",
    permission=Permission.READ_API_KEYS,
    responses=answers(200, ApiKeysAnswer, 401, 403),
    tags=["tenant"],
)
def list_api_keys() -> ApiKeysAnswer:
    keys = router.services.tenant_service().list_api_keys(principal())
    return ApiKeysAnswer.model_validate({"api_keys": [api_key_view(key) for key in keys]})


@router.delete(
    "/v1/api-keys/<key_id>",
    permission=Permission.MANAGE_API_KEYS,
    responses=answers(200, ApiKeyAnswer, 401, 403, 404),
    tags=["tenant"],
)
def revoke_api_key(key_id: str) -> ApiKeyAnswer:
    key = router.services.tenant_service().revoke_api_key(principal(), key_id)
    return ApiKeyAnswer.model_validate({"api_key": api_key_view(key)})


@router.post(
    "/v1/projects",
    permission=Permission.MANAGE_PROJECTS,
    status_code=201,
    responses=answers(201, ProjectAnswer, 400, 401, 403),
    tags=["projects"],
)
def create_project(body: ProjectBody) -> ProjectAnswer:
    project = router.services.project_service().create(principal(), body.name, body.budget)
    return ProjectAnswer.model_validate({"project": project_view(project)})


@router.get(
    "/v1/projects",
    permission=Permission.READ_PROJECTS,
    responses=answers(200, ProjectsAnswer, 401, 403),
    tags=["projects"],
)
def list_projects() -> ProjectsAnswer:
    projects = router.services.project_service().list(principal())
    return ProjectsAnswer.model_validate({"projects": [project_view(p) for p in projects]})


@router.patch(
    "/v1/projects/<project_id>",
    permission=Permission.MANAGE_PROJECTS,
    responses=answers(200, ProjectAnswer, 400, 401, 403, 404),
    tags=["projects"],
)
def update_project(project_id: str, body: ProjectChanges) -> ProjectAnswer:
    budget = body.budget if "budget" in body.model_fields_set else UNSET
    project = router.services.project_service().update(principal(), project_id, body.name, budget)
    return ProjectAnswer.model_validate({"project": project_view(project)})
