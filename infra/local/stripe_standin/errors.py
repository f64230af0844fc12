"""Stripe-shaped API errors: ``{"error": {"type", "code", "message", "param"}}``."""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"
IDEMPOTENCY = "idempotency_error"


class ApiError(Exception):
    """An error answered to the client in Stripe's shape, with Stripe's HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        error_type: str = INVALID_REQUEST,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.error_type = error_type

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def missing(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def invalid(param: str, message: str, code: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, param=param)


def unknown_param(param: str) -> ApiError:
    return ApiError(
        400,
        f"Received unknown parameter: {param} (the Stripe stand-in does not implement it).",
        code="parameter_unknown",
        param=param,
    )


def no_such(kind: str, object_id: str, param: str | None = None) -> ApiError:
    """``resource_missing``: 404 for an id in the path, 400 for an id passed as a parameter."""
    return ApiError(
        404 if param is None else 400,
        f"No such {kind}: '{object_id}'",
        code="resource_missing",
        param=param if param is not None else "id",
    )
