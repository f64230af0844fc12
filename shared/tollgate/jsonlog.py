"""A small structured logger for the validation function, whose cold start cannot afford Powertools
(importing ``aws_lambda_powertools`` pulls in Metrics and Tracer too: ~40 ms, measured in docs/performance.md).

One JSON object per line on stdout, in the fields Powertools' Logger writes (``level``, ``location``,
``message``, ``timestamp``, ``service``, extra keys), redacted by the same filter as ``tollgate.logs``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from tollgate.redaction import RedactSecrets

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "service": self._service,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
            entry["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, default=str)


class StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is at the time (Lambda ships stdout to CloudWatch Logs)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # a log line must never fail a request
            self.handleError(record)


def get_json_logger(name: str = "tollgate") -> logging.Logger:
    """A logger named ``name`` that writes redacted JSON lines; level from ``POWERTOOLS_LOG_LEVEL``."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter(os.environ.get("POWERTOOLS_SERVICE_NAME", name)))
        handler.addFilter(RedactSecrets())  # on the handler: covers records of child loggers too, once
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").upper())
    return logger
