"""Builds the Powertools resolver every HTTP function uses, with the error map wired in once, the services
its routes call, and the capability routers it serves; a route without a stated access is refused at
registration (``tollgate.edge.routing``)."""

from __future__ import annotations

import binascii
import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from tollgate.core.errors import MalformedRequest, TollgateError
from tollgate.core.limits import MAX_BODY_BYTES
from tollgate.edge.errors import error_response, internal_error_response, refusal
from tollgate.edge.requests import require_json, strict_json
from tollgate.edge.routes import no_route
from tollgate.edge.routing import CapabilityRouter, gate_of, serve


def _request_id(app: APIGatewayHttpResolver) -> str:
    try:
        return str(app.current_event.request_context.request_id)
    except (AttributeError, KeyError, TypeError):
        return "unknown"


def _as_response(raw: dict[str, Any]) -> Response:
    return Response(
        status_code=int(raw["statusCode"]),
        content_type="application/json",
        body=str(raw["body"]),
        headers={k: v for k, v in raw["headers"].items() if k != "Content-Type"},
    )


def body_json(text: str) -> Any:
    """Powertools' body parser for validated routes: the same strict JSON rules as every other route."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise MalformedRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    return strict_json(text)


class Resolver(APIGatewayHttpResolver):
    """The HTTP API resolver, holding the services its routes call and refusing any route without a gate."""

    def __init__(self, logger: Logger, services: Any, validation: bool) -> None:
        if validation:
            super().__init__(strip_prefixes=None, enable_validation=True, json_body_deserializer=body_json)
        else:
            super().__init__(strip_prefixes=None)
        self.logger = logger
        self.services = services

    def route(self, rule: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        if gate_of(kwargs.get("middlewares")) is None:
            raise TypeError(f"{method} {rule} states no access: register it on a CapabilityRouter")
        return super().route(rule, method, *args, **kwargs)

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        try:
            require_json(event)  # before Powertools parses a form or multipart body into a model's fields
        except TollgateError as error:
            request_id = str((event.get("requestContext") or {}).get("requestId", "unknown"))
            self.logger.info("request refused", extra={"code": error.code, "status_reason": error.message})
            return error_response(error, request_id)
        return serve(self.services, lambda: super(Resolver, self).resolve(event, context))


def build_resolver(
    logger: Logger, services: Any = None, routers: Sequence[CapabilityRouter[Any]] = (), validation: bool = False
) -> Resolver:
    """``services``: what the routes call (the composition root, ``tollgate.services``); ``routers``: the
    capabilities' routes this function serves. ``validation``: Powertools validates requests and answers
    against the routes' pydantic models (portal, signup, approvals). Its refusals come out in the error
    envelope, as every other refusal does."""
    app = Resolver(logger, services, validation)
    for router in routers:
        app.include_router(router.router)

    @app.exception_handler(TollgateError)
    def _domain_error(error: TollgateError) -> Response:
        logger.info("request refused", extra={"code": error.code, "status_reason": error.message})
        return _as_response(error_response(error, _request_id(app)))

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response:
        problems = error.errors()
        if any(tuple(problem.get("loc", ()))[:1] == ("response",) for problem in problems):
            # our answer broke its own model: a bug of ours (a 500, logged), never the caller's fault
            broken = [{"loc": list(problem.get("loc", ())), "type": problem.get("type")} for problem in problems]
            logger.error("answer does not match its model", extra={"problems": broken})
            return _as_response(internal_error_response(_request_id(app)))
        return _domain_error(refusal(problems))

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(_: RequestUnsupportedContentType) -> Response:
        return _domain_error(MalformedRequest("the body must be JSON (Content-Type: application/json)"))

    @app.exception_handler(ValueError)
    def _value_error(error: ValueError) -> Response:
        if isinstance(error, binascii.Error):  # Powertools decodes a base64 body before our parser
            return _domain_error(MalformedRequest("the body is not valid base64"))
        content_type = str(app.current_event.headers.get("content-type") or "")
        if content_type and not content_type.lower().startswith("application/json"):
            # Powertools parses form and multipart bodies itself, and raises ValueError on a broken one
            return _domain_error(MalformedRequest("the body must be JSON (Content-Type: application/json)"))
        return _unexpected(error)

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(_: UnicodeDecodeError) -> Response:  # Powertools decodes a base64 body before our parser
        return _domain_error(MalformedRequest("the body is not valid UTF-8"))

    @app.not_found
    def _no_route(_: Exception) -> Response:
        event = app.current_event
        return _as_response(error_response(no_route(event.http_method, event.path), _request_id(app)))

    @app.exception_handler(Exception)
    def _unexpected(_: Exception) -> Response:
        logger.exception("unexpected error")
        return _as_response(internal_error_response(_request_id(app)))

    return app


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))
