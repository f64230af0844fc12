"""The validation function's logger: Powertools' fields, one JSON line per call, secrets redacted."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from tollgate.core import jsonlog
from tollgate.core.jsonlog import get_json_logger

SECRET = "tgk_eu-west-1.tn_0000000000000000.lk_0000000000000000.abcdefabcdefabcdefabcdefabcdefab"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_line_has_powertools_fields_and_the_extras(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_json_logger("validate")
    logger.info("validated", extra={"tenant_id": "tn_1", "code": "VALID", "count": 2})
    (line,) = _lines(capsys)
    assert line["level"] == "INFO"
    assert line["message"] == "validated"
    assert line["location"].startswith("test_a_line_has_powertools_fields_and_the_extras:")
    assert line["timestamp"].endswith("+00:00")
    assert (line["tenant_id"], line["code"], line["count"]) == ("tn_1", "VALID", 2)
    assert line["service"]


def test_timestamps_are_utc_to_the_millisecond_across_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The date and time of day are formatted once a second; every line still carries its own instant."""
    for now in (1764532477.483, 1764532477.9996, 1764532478.0, 1764532478.05, 1767225599.999, 1767225600.0):
        monkeypatch.setattr(time, "time", lambda now=now: now)
        expected = datetime.fromtimestamp(int(now * 1000) / 1000, UTC).isoformat(timespec="milliseconds")
        assert jsonlog._timestamp() == expected


def test_secrets_are_redacted_in_message_extras_and_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_json_logger("validate")
    logger.info(f"saw {SECRET}", extra={"auth": f"Bearer {SECRET}", "key_id": "lk_0000000000000000"})
    try:
        raise ValueError(f"bad key {SECRET}")
    except ValueError:
        logger.exception("unexpected error", extra={"request_id": "r-1"})
    out = capsys.readouterr().out
    assert "abcdefabcdef" not in out
    info, error = (json.loads(line) for line in out.splitlines())
    assert info["message"] == "saw [REDACTED]" and info["auth"] == "[REDACTED]"
    assert info["key_id"] == "lk_0000000000000000"  # ids are not secrets
    assert error["level"] == "ERROR" and error["exception_name"] == "ValueError"
    assert "Traceback" in error["exception"] and "[REDACTED]" in error["exception"]


def test_lines_below_the_level_are_not_written(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    logger = get_json_logger("validate")
    logger.info("quiet")
    logger.warning("loud")
    assert [line["message"] for line in _lines(capsys)] == ["loud"]
