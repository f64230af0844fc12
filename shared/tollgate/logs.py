"""The logger every function uses: Powertools JSON logs, with credentials and signatures redacted."""

from __future__ import annotations

import logging
import re

from aws_lambda_powertools import Logger

_SECRETS = re.compile(
    r"(tgk?_[A-Za-z0-9._-]+|sk_(?:test|live)_[A-Za-z0-9_]+|rk_(?:test|live)_[A-Za-z0-9_]+|whsec_[A-Za-z0-9_]+"
    r"|t=\d+(?:,v\d=[0-9a-fA-F]+)+|Bearer\s+\S+)"
)


def redact(text: str) -> str:
    return _SECRETS.sub("[REDACTED]", text)


class RedactSecrets(logging.Filter):
    """Rewrites every record's message and arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        for name, value in list(vars(record).items()):
            if name not in {"msg", "args"} and isinstance(value, str) and _SECRETS.search(value):
                setattr(record, name, redact(value))
        return True


def get_logger() -> Logger:
    logger = Logger()
    logger.addFilter(RedactSecrets())
    return logger
