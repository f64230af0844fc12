"""Reports in the portal: usage over days or months (JSON or CSV), the depletion forecast, and what one
purchase's tokens were spent on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tollgate.core import limits
from tollgate.core.roles import Permission
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views_reports import forecast_view, purchase_usage_view, usage_view
from tollgate.reports.models import ForecastAnswer, PurchaseUsageAnswer, UsageAnswer
from tollgate.reports.rules import csv_text

if TYPE_CHECKING:
    from tollgate.reports.service import ReportService


class ReportServices(Protocol):
    def report_service(self) -> ReportService: ...


router: CapabilityRouter[ReportServices] = CapabilityRouter()
TAGS = ["reports"]

Day = Annotated[str | None, Query(pattern=limits.DAY_PATTERN, description="A UTC day, YYYY-MM-DD.")]
Granularity = Annotated[str | None, Query(pattern=limits.GRANULARITY_PATTERN, description="day (default) or month.")]
GroupBy = Annotated[
    str | None,
    Query(
        pattern=limits.GROUP_BY_PATTERN,
        max_length=limits.GROUP_BY_MAX,
        description="Comma-separated: feature, project, key.",
    ),
]
First = Annotated[str | None, Query(alias="from", pattern=limits.DAY_PATTERN, description="First UTC day.")]
CSV = "text/csv"
_CSV_ANSWER = {"schema": {"type": "string", "description": "RFC 4180, a header line."}}
# GET /v1/usage answers JSON, or CSV to `Accept: text/csv` (the document declares both content types);
# GET /v1/usage.csv answers CSV only, for generated clients, which take one media type per answer.
_USAGE_ANSWERS = answers(200, UsageAnswer, 401, 403)
_USAGE_ANSWERS[200]["content"][CSV] = _CSV_ANSWER
_CSV_ANSWERS = answers(200, None, 401, 403)
_CSV_ANSWERS[200] = {"description": "OK", "content": {CSV: _CSV_ANSWER}}


@router.get("/v1/usage", permission=Permission.READ_USAGE, responses=_USAGE_ANSWERS, tags=TAGS)
def get_usage(
    first: First = None, to: Day = None, granularity: Granularity = None, group_by: GroupBy = None
) -> Response[Any]:
    """Spending over a range of UTC days (both inclusive; the last 30 days by default), in days or months,
    grouped by feature, project and key; ``Accept: text/csv`` answers CSV. Totals equal the ledger's
    spending entries (consumption, lease and allowance charges) over the range."""
    usage = router.services.report_service().usage(principal(), first, to, granularity, group_by)
    accept = str(router.current_event.headers.get("accept") or "")[: limits.ACCEPT_MAX]
    if CSV in accept.lower():
        return Response(200, f"{CSV}; charset=utf-8", csv_text(usage))
    return Response(200, "application/json", UsageAnswer.model_validate(usage_view(usage)).model_dump(mode="json"))


@router.get("/v1/usage.csv", permission=Permission.READ_USAGE, responses=_CSV_ANSWERS, tags=TAGS)
def get_usage_csv(
    first: First = None, to: Day = None, granularity: Granularity = None, group_by: GroupBy = None
) -> Response[str]:
    """The same report as ``GET /v1/usage``, as CSV."""
    usage = router.services.report_service().usage(principal(), first, to, granularity, group_by)
    return Response(200, f"{CSV}; charset=utf-8", csv_text(usage))


@router.get(
    "/v1/usage/forecast", permission=Permission.READ_USAGE, responses=answers(200, ForecastAnswer, 401, 403), tags=TAGS
)
def get_forecast() -> ForecastAnswer:
    return ForecastAnswer.model_validate(forecast_view(router.services.report_service().forecast(principal())))


@router.get(
    "/v1/purchases/<purchase_id>/usage",
    permission=Permission.READ_USAGE,
    responses=answers(200, PurchaseUsageAnswer, 401, 403, 404),
    tags=TAGS,
)
def get_purchase_usage(purchase_id: str) -> PurchaseUsageAnswer:
    usage = router.services.report_service().purchase_usage(principal(), purchase_id)
    return PurchaseUsageAnswer.model_validate(purchase_usage_view(usage))
