"""The one settings object, read from the environment once per cold start and checked there.

Secrets come from SSM Parameter Store in AWS (the ``*_PARAMETER`` variables name them) and straight from
the environment locally (``STRIPE_API_KEY``, ``STRIPE_WEBHOOK_SECRETS``, ``RECEIPT_SIGNING_KEY``,
``CREDENTIAL_PEPPER``, ``WEBHOOK_SEALING_KEYS``). ``secret()`` resolves either way and caches the value for the
life of the process; ``fresh_secret()`` reads it again (a key ring rotated meanwhile).
"""

from __future__ import annotations

import os
from functools import cache
from typing import NamedTuple


class Settings(NamedTuple):  # NamedTuple, not a dataclass: see domain/tenancy.py
    table_name: str
    region: str
    stage: str
    dynamodb_endpoint: str | None
    stripe_api_base: str | None
    portal_base_url: str
    dynamodb_read_timeout_s: float = 2.0  # every DynamoDB request's read timeout (seconds; kernel/client.py)
    dynamodb_retry_budget_s: float = 4.0  # one call, all its attempts (the last one whole), then 503
    # Webhooks may also go to http://127.0.0.0/8: set by the local stack alone (never by template.yaml)
    webhooks_allow_loopback: bool = False
    # One webhook delivery attempt, all of it (lookup, connect, TLS, headers, body): events/sender.py
    webhook_attempt_s: float = 5.0


class ConfigurationError(RuntimeError):
    """The deployment is misconfigured; raised at cold start, never for a request."""


@cache
def settings() -> Settings:
    table = os.environ.get("TABLE_NAME", "")
    if not table:
        raise ConfigurationError("TABLE_NAME is not set")
    return Settings(
        table_name=table,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        stage=os.environ.get("STAGE", "dev"),
        dynamodb_endpoint=os.environ.get("TOLLGATE_DDB_ENDPOINT") or None,
        stripe_api_base=os.environ.get("STRIPE_API_BASE") or None,
        portal_base_url=os.environ.get("PORTAL_BASE_URL", "https://portal.example.com").rstrip("/"),
        dynamodb_read_timeout_s=float(os.environ.get("TOLLGATE_DDB_READ_TIMEOUT_S", "2")),
        dynamodb_retry_budget_s=float(os.environ.get("TOLLGATE_DDB_RETRY_BUDGET_S", "4")),
        webhooks_allow_loopback=os.environ.get("TOLLGATE_WEBHOOKS_ALLOW_LOOPBACK", "").lower() == "true",
        webhook_attempt_s=_positive("TOLLGATE_WEBHOOK_ATTEMPT_S", 5.0),
    )


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 60:
        raise ConfigurationError(f"{name} must be more than 0 and at most 60 seconds")
    return value


@cache
def secret(name: str) -> str:
    """A secret by its environment name: the value itself locally, else the SSM parameter ``<name>_PARAMETER``."""
    direct = os.environ.get(name)
    if direct:
        return direct
    parameter = os.environ.get(f"{name}_PARAMETER")
    if not parameter:
        raise ConfigurationError(f"neither {name} nor {name}_PARAMETER is set")
    from aws_lambda_powertools.utilities import parameters  # deferred: only functions that need a secret

    value = parameters.get_parameter(parameter, decrypt=True, max_age=300)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"SSM parameter {parameter} is empty")
    return value


def fresh_secret(name: str) -> str:
    """``secret(name)`` read again now, past every cache (a key ring rotated while the process runs)."""
    direct = os.environ.get(name)
    if direct:
        return direct
    parameter = os.environ.get(f"{name}_PARAMETER")
    if not parameter:
        raise ConfigurationError(f"neither {name} nor {name}_PARAMETER is set")
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_parameter(parameter, decrypt=True, force_fetch=True)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"SSM parameter {parameter} is empty")
    return value
