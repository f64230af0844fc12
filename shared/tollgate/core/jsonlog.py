"""A small structured logger for the validation function, whose cold start cannot afford Powertools
(importing ``aws_lambda_powertools`` pulls in Metrics and Tracer too: ~40 ms, measured in docs/performance.md)
and whose per-call budget cannot afford the standard library's logging machinery either (a record, caller
lookup, filters and handlers cost about as much as the rest of the handler: docs/performance.md).

One JSON object per line on stdout, in the fields Powertools' Logger writes (``level``, ``location``,
``message``, ``timestamp``, ``service``, extra keys, ``exception``), redacted as ``tollgate.core.logs`` redacts.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from contextlib import suppress
from types import TracebackType
from typing import Any

from tollgate.core.redaction import SECRETS, redact

_LINE = json.JSONEncoder(default=str)  # built once: ``json.dumps(..., default=str)`` builds one per call
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class JsonLogger:
    """``debug``/``info``/``warning``/``error``/``exception`` with ``extra=``, as a ``logging.Logger`` is
    called; each line is written to whatever ``sys.stdout`` is at the time (Lambda ships it to CloudWatch)."""

    def __init__(self, service: str, level: str = "INFO") -> None:
        self.service = service
        self.level = _LEVELS.get(level.upper(), _LEVELS["INFO"])

    def debug(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._write(10, "DEBUG", message, extra)

    def info(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._write(20, "INFO", message, extra)

    def warning(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._write(30, "WARNING", message, extra)

    def error(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._write(40, "ERROR", message, extra)

    def exception(self, message: str, *, extra: Mapping[str, Any] | None = None) -> None:
        self._write(40, "ERROR", message, extra, sys.exc_info())

    def _write(
        self, level: int, name: str, message: str, extra: Mapping[str, Any] | None, exc_info: _ExcInfo | None = None
    ) -> None:
        if level < self.level:
            return
        caller = sys._getframe(2)  # the function that called debug/info/...
        entry: dict[str, Any] = {
            "level": name,
            "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
            "message": _redacted_message(message),
            "timestamp": _timestamp(),
            "service": self.service,
        }
        if extra:
            entry.update(extra)
            texts = [value for value in extra.values() if isinstance(value, str)]
            if texts and SECRETS.search("\n".join(texts)):  # one search for all; redact each only on a hit
                for key, value in extra.items():
                    if isinstance(value, str):
                        entry[key] = redact(value)
        if exc_info is not None and exc_info[0] is not None:
            entry["exception"] = redact("".join(traceback.format_exception(*exc_info)).rstrip("\n"))
            entry["exception_name"] = exc_info[0].__name__
        with suppress(Exception):  # a log line must never fail a request
            sys.stdout.write(_LINE.encode(entry) + "\n")


_last_second: tuple[int, str] = (-1, "")  # the last second a line was written in, and its text


def _timestamp() -> str:
    """Now in UTC to the millisecond, as Powertools writes it (``2026-11-30T19:54:37.483+00:00``); the date and
    time of day are formatted once a second, not on every line (read once: threads never mix two seconds)."""
    global _last_second
    second, millisecond = divmod(int(time.time() * 1000), 1000)
    formatted = _last_second
    if formatted[0] != second:
        formatted = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{formatted[1]}.{millisecond:03d}+00:00"


_MESSAGES: dict[str, str] = {}  # message -> as logged; messages are the code's own words, so few
_MESSAGES_MAX = 512


def _redacted_message(message: str) -> str:
    """``redact(message)``, remembered: a line's message is a literal of the code, its data in ``extra``."""
    clean = _MESSAGES.get(message)
    if clean is None:
        clean = redact(message)
        if len(_MESSAGES) < _MESSAGES_MAX:
            _MESSAGES[message] = clean
    return clean


def get_json_logger(name: str = "tollgate") -> JsonLogger:
    """A logger for service ``POWERTOOLS_SERVICE_NAME`` (else ``name``); level from ``POWERTOOLS_LOG_LEVEL``."""
    return JsonLogger(os.environ.get("POWERTOOLS_SERVICE_NAME", name), os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
