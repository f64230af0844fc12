"""Signup, the tenant's profile and its API keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from tollgate.core import limits
from tollgate.core.models import TenantStatus
from tollgate.core.roles import Role
from tollgate.core.schema import AnswerModel, Name, RequestModel, Timestamp, example
from tollgate.tenancy.rules_email import email_address

TenantName = Annotated[str, Field(min_length=1, max_length=limits.TENANT_NAME_MAX, pattern=limits.TEXT_PATTERN)]
Email = Annotated[
    str,
    Field(min_length=3, max_length=limits.EMAIL_MAX, pattern=limits.EMAIL_PATTERN),
    AfterValidator(email_address),  # email-validator, deliverability off: a 422 that says why
]
Region = Annotated[
    str, Field(min_length=6, max_length=limits.REGION_MAX, pattern=limits.REGION_PATTERN, examples=["eu-west-1"])
]


class SignupBody(RequestModel):
    model_config = example({"name": "Acme Robotics", "email": "ops@acme-robotics.example", "home_region": "eu-west-1"})

    name: TenantName
    email: Email
    home_region: Region | None = None


class Tenant(AnswerModel):
    id: str
    name: str
    email: str
    home_region: str
    status: TenantStatus
    created_at: Timestamp | None


class ApiKey(AnswerModel):
    id: str
    name: str
    role: Role
    display: str = Field(description="The first characters of the key, to recognise it; never the secret.")
    created_at: Timestamp | None
    revoked_at: Timestamp | None


class NewApiKey(ApiKey):
    secret: str = Field(description="The key itself (`tg_…`), shown in this answer only.")


class SignupAnswer(AnswerModel):
    tenant: Tenant
    api_key: NewApiKey


class Caller(AnswerModel):
    """Who is calling: the API key's id and role, and what that role may do (so that the portal shows only the
    controls the caller may use without probing; the server still decides every request)."""

    key_id: str
    role: Role
    permissions: list[str] = Field(
        description="The role's permissions (`purchases:create`, `license_keys:manage`, …), sorted.",
        examples=[["balance:read", "catalog:read", "projects:read", "tenant:read"]],
    )


class TenantAnswer(AnswerModel):
    tenant: Tenant
    caller: Caller


class ApiKeyBody(RequestModel):
    model_config = example({"name": "CI pipeline", "role": "member"})

    name: Name
    role: Role = Field(strict=False)  # strict mode takes only Role instances; JSON sends its value


class NewApiKeyAnswer(AnswerModel):
    api_key: NewApiKey


class ApiKeyAnswer(AnswerModel):
    api_key: ApiKey


class ApiKeysAnswer(AnswerModel):
    api_keys: list[ApiKey]
