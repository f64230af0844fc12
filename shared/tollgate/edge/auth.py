"""Who is calling. Every route's caller is resolved here, and only here, through the ``Credentials`` the
composition root hands the resolver (the edge imports no service).

- Portal routes: a tenant API key (``tg_…``), resolved to a tenant and a role.
- SDK routes (consume, leases, allowances): a license key (``tgk_…``) with its scope, or, for operators'
  scripts and until every caller has a license key, a tenant API key whose role may consume.
- Routes both the SDK and the portal call (actions): either key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any, Protocol

from tollgate.core import limits
from tollgate.core.errors import InvalidField, Unauthenticated
from tollgate.core.models import Principal
from tollgate.edge.requests import bearer_token, header
from tollgate.tenancy.rules import LICENSE_KEY_PREFIX

REGION_HEADER = "x-tollgate-region"


class Credentials(Protocol):
    """What the edge needs to know who calls (``tollgate.services.credentials`` builds it)."""

    def api_key(self, token: str | None) -> Principal:
        """The tenant and role of a tenant API key; Unauthenticated otherwise."""
        ...

    def license_key(self, token: str, region: str | None, from_memory: bool) -> Principal:
        """The tenant and scope of a license key. ``from_memory``: a key this container read recently is
        taken without a read; the write that follows must then prove the key and the tenant itself."""
        ...

    def license_key_to_wind_down(self, token: str) -> Principal:
        """The holder of a license key on a route that only winds a hold down (a check-in, a report, a
        cancellation): the key's secret must be right, but a revoked or expired key, a suspended tenant or
        another region is let through (SPEC.md, "Spending: one pipeline": winding down is never refused)."""
        ...


class Credential(Enum):
    """The credential a route takes."""

    API_KEY = "a tenant API key"
    SDK = "a license key, or an API key whose role may consume"
    SDK_REMEMBERED = "as SDK; a license key read recently is taken from memory when the caller prefers minimal"
    EITHER = "a license key or an API key"
    WIND_DOWN = "a license key, even revoked or of a suspended tenant, or an API key: the route only winds down"


def authenticate(
    credential: Credential, event: Mapping[str, Any], credentials: Credentials, from_memory: bool = False
) -> Principal:
    """The caller of ``event``, by the credential its route takes (authorisation is the gate's next step)."""
    token = bearer_token(event)
    if credential is Credential.API_KEY:
        return credentials.api_key(token)
    if token is None and credential is not Credential.EITHER:
        raise Unauthenticated("a license key (Authorization: Bearer tgk_…) is required")
    region = region_header(event)
    if token is not None and token.startswith(LICENSE_KEY_PREFIX):
        if credential is Credential.WIND_DOWN:
            return credentials.license_key_to_wind_down(token)
        remembered = from_memory and credential is Credential.SDK_REMEMBERED
        return credentials.license_key(token, region, remembered)
    return credentials.api_key(token)


def region_header(event: Mapping[str, Any]) -> str | None:
    """``X-Tollgate-Region``, where the client runs, when sent: an AWS region name (the SDK routes declare
    it so), else a 422 naming the header, whatever the credential (re's cache compiles the pattern once)."""
    region = header(event, REGION_HEADER)
    if region is not None and (len(region) > limits.REGION_MAX or not re.fullmatch(limits.REGION_PATTERN, region)):
        raise InvalidField("X-Tollgate-Region", limits.pattern_meaning(limits.REGION_PATTERN))
    return region
