"""The logger every function uses: Powertools JSON logs, with credentials and signatures redacted."""

from __future__ import annotations

from typing import IO

from aws_lambda_powertools import Logger

from tollgate.core.redaction import RedactSecrets, redact

__all__ = ["RedactSecrets", "get_logger", "redact"]


def get_logger(service: str | None = None, stream: IO[str] | None = None) -> Logger:
    """The function's logger (``POWERTOOLS_SERVICE_NAME``), or one of its own for ``service`` and ``stream``."""
    logger = Logger(service=service, stream=stream)
    logger.addFilter(RedactSecrets())
    return logger
