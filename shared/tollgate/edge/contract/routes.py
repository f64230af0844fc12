"""``GET /v1/openapi.json``: the published contract, public and cacheable (the portal serves it)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from tollgate.edge.contract.published import document
from tollgate.edge.refusals import answers
from tollgate.edge.routing import PUBLIC, CapabilityRouter

router: CapabilityRouter[object] = CapabilityRouter()
OPENAPI_CACHE_S = 300


@router.get(
    "/v1/openapi.json", permission=PUBLIC, responses=answers(200, None), tags=["contract"], summary="This document."
)
def get_openapi() -> Response[dict[str, Any]]:
    """Public and cacheable: generated from the models at build time (``python -m infra.contract``)."""
    return Response(
        status_code=200,
        content_type="application/json",
        body=document(),
        headers={"Cache-Control": f"public, max-age={OPENAPI_CACHE_S}"},
    )
