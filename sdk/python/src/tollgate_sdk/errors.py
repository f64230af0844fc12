"""The SDK's errors: one class per error code the API sends, grouped by what a program does about them.

``TollgateError`` is the base of everything the SDK raises on purpose. ``APIError`` carries the HTTP status,
the API's ``code``, its message and ``request_id`` (quote it to support). ``error_from_response`` maps an
answer to its class, in this one place; docs/sdk.md has the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class TollgateError(Exception):
    """Base of every error the SDK raises on purpose."""


class APIError(TollgateError):
    """The API answered with an error (or, for ``ConnectionFailed``, did not answer at all)."""

    code = "ERROR"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        field: str | None = None,
        retry_after_s: float | None = None,
        rule_id: str | None = None,
        limit: str | None = None,
    ) -> None:
        super().__init__(message)
        self.rule_id = rule_id  # the policy rule that refused (ACTION_DENIED, APPROVAL_REQUIRED)
        self.limit = limit  # the budget level that refused (``environment:<project>:<name>``), on a 402
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.request_id = request_id
        self.field = field
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        where = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{where}"


# 400 / 422 -------------------------------------------------------------------------------------------------
class InvalidRequest(APIError):
    """The request was refused as malformed or invalid; sending it again will not help."""


class MalformedRequest(InvalidRequest):
    code = "MALFORMED_REQUEST"


class InvalidField(InvalidRequest):
    """One field is wrong; ``field`` names it."""

    code = "INVALID_FIELD"


# 401 --------------------------------------------------------------------------------------------------------
class Unauthenticated(APIError):
    """The license key is missing, unknown, malformed, rotated away or revoked."""

    code = "UNAUTHENTICATED"


class KeyNotFound(Unauthenticated):
    """Validation: no such key (or a wrong or rotated-away secret)."""

    code = "NOT_FOUND"


class KeyRevoked(Unauthenticated):
    """Validation: the key was revoked."""

    code = "REVOKED"


class KeyExpired(Unauthenticated):
    """Validation: the key is past its ``expires_at``."""

    code = "EXPIRED"


# 403 --------------------------------------------------------------------------------------------------------
class Forbidden(APIError):
    """The key's scope (features, project, role) does not allow this."""

    code = "FORBIDDEN"


class NotEntitled(Forbidden):
    """Validation: the key is not entitled to the feature asked about."""

    code = "FEATURE_NOT_ENTITLED"


class ProjectNotAllowed(Forbidden):
    code = "PROJECT_NOT_ALLOWED"


class RegionNotAllowed(Forbidden):
    code = "REGION_NOT_ALLOWED"


class TenantSuspended(Forbidden):
    code = "TENANT_SUSPENDED"


class ApprovalRequired(Forbidden):
    """The tenant's policy wants an approval first (approvals: see ``Tollgate.request_action``)."""

    code = "APPROVAL_REQUIRED"


class ActionDenied(Forbidden):
    """The tenant's policy denies this (``rule_id`` names the rule), or an approver denied the action."""

    code = "ACTION_DENIED"


class BreakGlassNotAllowed(Forbidden):
    """Break-glass was asked for, but the matching rule does not allow it for this key."""

    code = "BREAK_GLASS_NOT_ALLOWED"


class SelfReview(Forbidden):
    """The requester may not review its own action."""

    code = "SELF_REVIEW"


class NotAnApprover(Forbidden):
    """This key is not (or not yet: before escalation) one of the action's approvers."""

    code = "NOT_AN_APPROVER"


# 404 / 409 --------------------------------------------------------------------------------------------------
class NotFound(APIError):
    code = "NOT_FOUND"


class Conflict(APIError):
    code = "CONFLICT"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used before with another body, or more than 24 hours ago."""

    code = "IDEMPOTENCY_KEY_REUSED"


class LeaseExpired(Conflict):
    code = "LEASE_EXPIRED"


class LeaseClosed(Conflict):
    code = "LEASE_CLOSED"


class ActionResolved(Conflict):
    """The action is no longer pending: it takes no more reviews, and cannot be cancelled once ended."""

    code = "ACTION_RESOLVED"


class AlreadyReviewed(Conflict):
    code = "ALREADY_REVIEWED"


class ActionNotApproved(Conflict):
    """Only an approved action is redeemed (this one is pending, denied, cancelled or already redeemed)."""

    code = "ACTION_NOT_APPROVED"


class ActionExpired(Conflict):
    """The action expired before approvers decided (``wait`` then ``raise_if_not_approved``)."""

    code = "ACTION_EXPIRED"


class GrantExpired(ActionExpired):
    """The approval lapsed (past the rule's ``grant_ttl_s``) before it was redeemed; ask again."""

    code = "GRANT_EXPIRED"


class AllowanceEnded(Conflict):
    """The allowance was settled or expired (or closed in this process): open a new one."""

    code = "ALLOWANCE_ENDED"


# 402 --------------------------------------------------------------------------------------------------------
class PaymentRequired(APIError):
    """Not enough tokens; nothing was charged."""

    code = "PAYMENT_REQUIRED"


class InsufficientTokens(PaymentRequired):
    code = "INSUFFICIENT_TOKENS"


class ProjectBudgetExhausted(PaymentRequired):
    code = "PROJECT_BUDGET_EXHAUSTED"


class TenantBudgetExhausted(PaymentRequired):
    code = "TENANT_BUDGET_EXHAUSTED"


class EnvironmentBudgetExhausted(PaymentRequired):
    code = "ENVIRONMENT_BUDGET_EXHAUSTED"


class KeyBudgetExhausted(PaymentRequired):
    code = "KEY_BUDGET_EXHAUSTED"


# 429 / 5xx / no answer: retried by the SDK within its deadline, raised when that runs out -------------------
class RateLimited(APIError):
    code = "RATE_LIMITED"


class Unavailable(APIError):
    """The service could not answer now (5xx, or no answer at all); nothing is known to have changed twice."""

    code = "UNAVAILABLE"


class StoreBusy(Unavailable):
    code = "STORE_BUSY"


class UpstreamUnavailable(Unavailable):
    code = "UPSTREAM_UNAVAILABLE"


class ServerError(Unavailable):
    code = "INTERNAL"


class ConnectionFailed(Unavailable):
    """No answer: the connection failed, was cut or timed out."""

    code = "CONNECTION_FAILED"


# Receipts ---------------------------------------------------------------------------------------------------
class InvalidReceipt(TollgateError):
    """A validation receipt that is malformed, signed by no published key, tampered with, or for another
    request."""


class ReceiptExpired(InvalidReceipt):
    """The receipt is past its ``exp``."""


class ApprovalTimeout(TollgateError):
    """``wait``: the action is still pending when the wait's time ran out (it stays pending on the service)."""


class AllowanceExhausted(TollgateError):
    """``spend``: the held block is spent and no renewal arrived within the allowance's ``wait_s``."""


class ClockTampered(InvalidReceipt):
    """The local clock is behind what a signed receipt proves the time to have been (set back?)."""


_BY_CODE: dict[str, type[APIError]] = {
    kind.code: kind
    for kind in (
        MalformedRequest,
        InvalidField,
        Unauthenticated,
        Forbidden,
        RegionNotAllowed,
        TenantSuspended,
        ApprovalRequired,
        ActionDenied,
        BreakGlassNotAllowed,
        SelfReview,
        NotAnApprover,
        ActionResolved,
        AlreadyReviewed,
        ActionNotApproved,
        GrantExpired,
        NotFound,
        IdempotencyKeyReused,
        LeaseExpired,
        LeaseClosed,
        AllowanceEnded,
        InsufficientTokens,
        ProjectBudgetExhausted,
        TenantBudgetExhausted,
        EnvironmentBudgetExhausted,
        KeyBudgetExhausted,
        RateLimited,
        StoreBusy,
        UpstreamUnavailable,
        ServerError,
    )
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    402: PaymentRequired,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    429: RateLimited,
}

# ``POST /v1/validate`` answers 200 with a ``code``; ``Validation.raise_if_invalid`` raises these.
VALIDATION_ERRORS: dict[str, type[APIError]] = {
    "NOT_FOUND": KeyNotFound,
    "REVOKED": KeyRevoked,
    "EXPIRED": KeyExpired,
    "SUSPENDED": TenantSuspended,
    "REGION_NOT_ALLOWED": RegionNotAllowed,
    "FEATURE_NOT_ENTITLED": NotEntitled,
    "PROJECT_NOT_ALLOWED": ProjectNotAllowed,
}


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], retry_after_s: float | None = None
) -> APIError:
    """The error for an answer with status >= 400: by its ``code`` when known, else by its status."""
    detail: Mapping[str, Any] = {}
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        detail = parsed["error"]
    code = detail.get("code") if isinstance(detail.get("code"), str) else None
    kind = _BY_CODE.get(code or "") or _BY_STATUS.get(status) or (Unavailable if status >= 500 else APIError)
    if kind is Unavailable and status == 500:
        kind = ServerError
    message = str(detail.get("message") or f"HTTP {status}")
    request_id = detail.get("request_id") or headers.get("x-request-id") or headers.get("apigw-requestid")
    return kind(
        message,
        status=status,
        code=code or kind.code,
        request_id=str(request_id) if request_id else None,
        field=str(detail["field"]) if detail.get("field") else None,
        retry_after_s=retry_after_s,
        rule_id=str(detail["rule_id"]) if detail.get("rule_id") else None,
        limit=str(detail["limit"]) if detail.get("limit") else None,
    )
