from __future__ import annotations

import io
import json

import pytest

from tollgate.core import errors
from tollgate.core.logs import get_logger
from tollgate.edge.errors import error_response, status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.MalformedRequest("x"), 400),
        (errors.InvalidField("name", "x"), 422),
        (errors.Unauthenticated("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.TenantSuspended("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.IdempotencyKeyReused("x"), 409),
        (errors.InsufficientTokens("x"), 402),
        (errors.ProjectBudgetExhausted("project:pj_x", 3, 0), 402),
        (errors.RateLimited("x"), 429),
        (errors.StoreBusy(), 503),
        (errors.UpstreamUnavailable("x"), 503),
    ],
)
def test_each_error_has_its_status_and_body(error: errors.TollgateError, status: int) -> None:
    assert status_of(error) == status
    response = error_response(error, "req-7")
    body = json.loads(str(response["body"]))["error"]
    assert (response["statusCode"], body["code"], body["request_id"]) == (status, error.code, "req-7")
    assert ("field" in body) == isinstance(error, errors.InvalidField)


def test_logs_redact_credentials_and_signatures() -> None:
    stream = io.StringIO()  # a logger of its own: the shared one keeps the stream of whoever made it first
    logger = get_logger(service="redaction-test", stream=stream)
    secret = "tg_tn_0000000000000000.ak_0000000000000000.abcdefabcdefabcdefabcdefabcdefab"
    logger.info(f"got {secret}", extra={"header": "t=1700000000,v1=deadbeef", "auth": f"Bearer {secret}"})
    logger.info("stripe key %s", "sk_test_51Habc")
    out = stream.getvalue()
    assert "abcdefabcdef" not in out and "deadbeef" not in out and "sk_test_51Habc" not in out
    assert out.count("[REDACTED]") >= 4
