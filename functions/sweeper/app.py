"""The scheduled sweeper (ScheduleV2, every minute): settles leases and token lots past their end.

Thin: the work is ``SweeperService.sweep`` (tollgate.pool.service_sweeper). It stops with a margin before the
invocation's time runs out and reports what it left; the next run carries on. Expiry is also enforced
when read, so a late or failed sweep delays only the clean-up, never the refusal.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate import services
from tollgate.core.logs import get_logger

logger = get_logger()


class SweepIncomplete(RuntimeError):
    """Some due records could not be settled; they stay due for the next run (and the error alarm fires)."""


@logger.inject_lambda_context
def handler(_event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = services.sweeper_service().sweep(context.get_remaining_time_in_millis).as_dict()
    logger.info("sweep done", extra={"sweep": report})
    if report["errors"]:
        raise SweepIncomplete(f"{report['errors']} due records failed to settle; see the log")
    return report
