"""The usage aggregator: a consumer of the table's stream (an event source mapping in template.yaml, filtered
to spending ledger entries) that keeps the usage rollups. Thin: the work is ``UsageAggregator.process``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger

logger = get_logger()
metrics = Metrics()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    result = services.usage_aggregator().process(event.get("Records") or [])
    metrics.add_metric(name="UsageEntriesCounted", unit=MetricUnit.Count, value=result.counted)
    metrics.add_metric(name="UsageEntriesRepeated", unit=MetricUnit.Count, value=result.repeated)
    logger.info(
        "usage batch",
        extra={
            "records": result.records,
            "entries": result.entries,
            "counted": result.counted,
            "repeated": result.repeated,
            "transactions": result.transactions,
            "failed": len(result.failed),
        },
    )
    return result.answer()
