"""The logger every function uses: Powertools JSON logs, with credentials and signatures redacted."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from tollgate.redaction import RedactSecrets, redact

__all__ = ["RedactSecrets", "get_logger", "redact"]


def get_logger() -> Logger:
    logger = Logger()
    logger.addFilter(RedactSecrets())
    return logger
