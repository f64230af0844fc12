"""Alerts and auto top-up where the change happens: a consumer of the table's stream (pool and project items,
old and new images) for the alert kinds a change crosses and auto top-up's threshold crossings, and a schedule
for the alert kinds time alone crosses. Thin: the work is ``AlertEvaluator`` (tollgate.events.store_alert_stream)
and ``TopUps.process`` (tollgate.purchases.service_topup)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger

logger = get_logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    evaluator = services.alert_evaluator()
    if "Records" not in event:  # the schedule
        batch = evaluator.evaluate_timed(services.alert_repository().timed_tenants())
        logger.info("alerts evaluated", extra={"fired": batch.fired, "recovered": batch.recovered})
        return {"records": 0, "fired": batch.fired, "recovered": batch.recovered, "failed": len(batch.failed)}
    batch, topped = evaluator.process(event["Records"] or []), services.topups().process(event["Records"] or [])
    summary = {"records": batch.records, "fired": batch.fired, "recovered": batch.recovered, "depleted": batch.depleted}
    logger.info("alerts evaluated", extra={**summary, "topups_started": topped.started, "failed": len(batch.failed)})
    failed = list(dict.fromkeys([*batch.failed, *topped.failed]))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
