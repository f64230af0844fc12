"""Redacting credentials and webhook signatures from log records, with no logging library of its own.

``tollgate.core.logs`` (Powertools, for most functions) and ``tollgate.core.jsonlog`` (the validation function's light
logger) both use it, so both redact the same way.
"""

from __future__ import annotations

import logging
import re

SECRETS = re.compile(
    r"(tgk?_[A-Za-z0-9._-]+|sk_(?:test|live)_[A-Za-z0-9_]+|rk_(?:test|live)_[A-Za-z0-9_]+|whsec_[A-Za-z0-9_+/=-]+"
    r"|t=\d+(?:,v\d=[0-9a-fA-F]+)+|v1,[A-Za-z0-9+/=]{20,}|Bearer\s+\S+)"
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def redact(text: str) -> str:
    return SECRETS.sub("[REDACTED]", text)


# Attributes that logging fills from the code (logger, file, function, thread names), never from data: not
# searched, which halves the filter's cost on the validation function's hot path.
_FROM_CODE = frozenset(
    {
        "msg",
        "args",
        "name",
        "levelname",
        "pathname",
        "filename",
        "module",
        "funcName",
        "threadName",
        "processName",
        "taskName",
    }
)


def loggable(text: str) -> str:
    """``text`` redacted, with lone UTF-16 surrogates (which a header or path may carry, and which no UTF-8
    log line can hold) replaced by U+FFFD, so that a log line is never lost to what a caller sent."""
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return redact(text)


def _needs_rewrite(text: str) -> bool:
    return not text.isascii() or SECRETS.search(text) is not None


class RedactSecrets(logging.Filter):
    """Rewrites every record's message, arguments and extra fields before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = loggable(record.msg)
        if record.args:
            record.args = tuple(loggable(a) if isinstance(a, str) else a for a in record.args)
        for name, value in list(vars(record).items()):
            if name not in _FROM_CODE and isinstance(value, str) and _needs_rewrite(value):
                setattr(record, name, loggable(value))
        return True
