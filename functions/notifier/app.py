"""The notifier: outbox events from the table's stream to the tenants' webhook endpoints, and, on its
schedule, the retries that are due. Thin: the work is ``NotifierService`` (tollgate.events.service_notifier).

A stream batch answers ``{"batchItemFailures": [...]}`` with the records whose delivery could not be written
(Lambda retries from the first of them, then the on-failure destination keeps them); a record that is not
an event (the filter should have stopped it) is skipped with a warning, never retried forever.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger
from tollgate.events.rules import Event
from tollgate.events.store_records import NotAnEvent, event_from_record

logger = get_logger()


class RetriesIncomplete(RuntimeError):
    """Some due deliveries could not be handled; they stay due for the next run (the error alarm fires)."""


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and "Records" in event:
        return _stream(event["Records"])
    report = services.notifier_service().retry_due(context.get_remaining_time_in_millis).as_dict()
    logger.info("webhook retries done", extra={"retries": report})
    if report["errors"]:
        raise RetriesIncomplete(f"{report['errors']} due deliveries failed; see the log")
    return report


def _stream(records: list[dict[str, Any]]) -> dict[str, Any]:
    events: list[tuple[str, Event]] = []
    for record in records:
        sequence = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
        try:
            events.append((sequence, event_from_record(record)))
        except (NotAnEvent, ValueError) as exc:
            logger.warning("stream record skipped", extra={"sequence_number": sequence, "reason": str(exc)})
    report = services.notifier_service().deliver_events(events)
    logger.info("webhook deliveries done", extra={"deliveries": report.as_dict()})
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in report.failed_records]}
