"""Builds the Powertools resolver every HTTP function uses, with the error map wired in once."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from tollgate.domain.errors import NotFound, TollgateError
from tollgate.http.errors import error_response, internal_error_response


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


def build_resolver(logger: Logger) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(strip_prefixes=None)

    @app.exception_handler(TollgateError)
    def _domain_error(error: TollgateError) -> Response:
        logger.info("request refused", extra={"code": error.code, "status_reason": error.message})
        return _as_response(error_response(error, _request_id(app)))

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return _as_response(error_response(NotFound("no such route"), _request_id(app)))

    @app.exception_handler(Exception)
    def _unexpected(_: Exception) -> Response:
        logger.exception("unexpected error")
        return _as_response(internal_error_response(_request_id(app)))

    return app


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))
