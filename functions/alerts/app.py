"""Alerts, evaluated where the change happens: a consumer of the table's stream (pool and project items,
old and new images) for the kinds a change crosses, and a schedule for those time alone crosses (depletion
forecast, lot ends). Thin: the work is ``AlertEvaluator`` (tollgate.events.store_alert_stream)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger

logger = get_logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    evaluator = services.alert_evaluator()
    if "Records" in event:
        batch = evaluator.process(event["Records"] or [])
    else:  # the schedule
        batch = evaluator.evaluate_timed(services.alert_repository().timed_tenants())
    summary = {
        "records": batch.records,
        "fired": batch.fired,
        "recovered": batch.recovered,
        "depleted": batch.depleted,
        "failed": len(batch.failed),
    }
    logger.info("alerts evaluated", extra=summary)
    return batch.answer() if "Records" in event else summary
