"""The one error hierarchy. ``tollgate.edge.errors`` maps each class to an HTTP status, in one place."""

from __future__ import annotations


class TollgateError(Exception):
    """Base of every error the API reports on purpose. ``code`` is the SCREAMING_SNAKE error code."""

    code = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequest(TollgateError):
    """The request cannot be read at all (not JSON, not an object)."""

    code = "MALFORMED_REQUEST"


class InvalidField(TollgateError):
    """One field of an otherwise readable request is wrong. ``field`` names it."""

    code = "INVALID_FIELD"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Unauthenticated(TollgateError):
    """No credential, or one that is unknown, revoked or malformed."""

    code = "UNAUTHENTICATED"


class Forbidden(TollgateError):
    """The caller is known, but its role or scope does not allow this."""

    code = "FORBIDDEN"


class NotFound(TollgateError):
    """No such record for this tenant (also what another tenant's ids look like)."""

    code = "NOT_FOUND"


class MethodNotAllowed(TollgateError):
    """The path exists, but not with this method. ``allow`` lists the methods it has."""

    code = "METHOD_NOT_ALLOWED"

    def __init__(self, allow: list[str]) -> None:
        super().__init__(f"use {' or '.join(allow)} on this path")
        self.allow = list(allow)


class Conflict(TollgateError):
    code = "CONFLICT"


class IdempotencyKeyReused(Conflict):
    """The same Idempotency-Key was sent before with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"


class PaymentRequired(TollgateError):
    """Base for "not enough tokens" answers (HTTP 402)."""

    code = "PAYMENT_REQUIRED"


class InsufficientTokens(PaymentRequired):
    code = "INSUFFICIENT_TOKENS"


class BudgetExhausted(PaymentRequired):
    """A budget level does not cover the spend; ``limit`` names the refusing level's scope string."""

    code = "BUDGET_EXHAUSTED"
    level = "budget"

    def __init__(self, limit: str, amount: int, left: int) -> None:
        super().__init__(f"the {self.level} budget {limit} has {max(left, 0)} tokens left; this needs {amount}")
        self.limit = limit
        self.left = left


class TenantBudgetExhausted(BudgetExhausted):
    code = "TENANT_BUDGET_EXHAUSTED"
    level = "tenant's"


class ProjectBudgetExhausted(BudgetExhausted):
    code = "PROJECT_BUDGET_EXHAUSTED"
    level = "project's"


class EnvironmentBudgetExhausted(BudgetExhausted):
    code = "ENVIRONMENT_BUDGET_EXHAUSTED"
    level = "environment's"


class KeyBudgetExhausted(BudgetExhausted):
    code = "KEY_BUDGET_EXHAUSTED"
    level = "license key's"


class TenantSuspended(Forbidden):
    code = "TENANT_SUSPENDED"


class RateLimited(TollgateError):
    code = "RATE_LIMITED"


class StoreBusy(TollgateError):
    """The store throttled or kept conflicting after retries; nothing was applied. Try again later."""

    code = "STORE_BUSY"

    def __init__(
        self, message: str = "The store is busy; nothing was changed. Retry later.", retry_after_s: int = 1
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamUnavailable(TollgateError):
    """A dependency (Stripe) failed; nothing was changed."""

    code = "UPSTREAM_UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RegionNotAllowed(Forbidden):
    """A license key used outside the regions it is scoped to."""

    code = "REGION_NOT_ALLOWED"


class FeatureNotEntitled(Forbidden):
    """A license key used for a feature it is not entitled to."""

    code = "FEATURE_NOT_ENTITLED"


class ProjectNotAllowed(Forbidden):
    """A license key used for another project than the one it is scoped to."""

    code = "PROJECT_NOT_ALLOWED"


class EnvironmentNotAllowed(Forbidden):
    """A license key used for another environment than the one it is scoped to."""

    code = "ENVIRONMENT_NOT_ALLOWED"


class LeaseExpired(Conflict):
    """The lease is past its end (whether or not the sweeper has settled it yet); open a new one."""

    code = "LEASE_EXPIRED"


class AllowanceEnded(Conflict):
    """The allowance was settled or charged in full at its end; open a new one."""

    code = "ALLOWANCE_ENDED"


class LeaseClosed(Conflict):
    """The lease was checked in; it cannot be extended."""

    code = "LEASE_CLOSED"


class PreconditionFailed(TollgateError):
    """``If-Match`` named another version than the stored one: read again and retry (HTTP 412)."""

    code = "PRECONDITION_FAILED"


class PreconditionRequired(TollgateError):
    """The change needs ``If-Match`` with the version it was made from (HTTP 428)."""

    code = "PRECONDITION_REQUIRED"


class PolicyRefusal(Forbidden):
    """The tenant's policy refused the request; ``rule_id`` names the rule (None: the default effect)."""

    def __init__(self, message: str, rule_id: str | None) -> None:
        super().__init__(message)
        self.rule_id = rule_id


class ActionDenied(PolicyRefusal):
    code = "ACTION_DENIED"


class ApprovalRequired(PolicyRefusal):
    """A rule requires approval: ask with ``POST /v1/actions``, then redeem the approved action."""

    code = "APPROVAL_REQUIRED"


class LotsDue(Exception):
    """A lot of this pool has reached its end and must be settled before anything is debited."""


class PolicyChanged(Exception):
    """The stored policy is no longer the version the change was decided under; nothing was written. The
    caller reads the policy again and decides again (a spend, an action alike)."""
