"""The system's Chromium for the browser tests (Debian's package; `.ci/run` installs it and fails without it).

Outside CI a machine without Chromium skips the browser tests; under CI (``CI`` set, as `.ci/run` sets it)
they fail instead, so that a broken install can never pass as skipped tests."""

from __future__ import annotations

import os
import shutil

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    return next((found for name in NAMES if (found := shutil.which(name))), None)


def chromium_or_skip() -> str:
    """The path of Chromium; without one, a skip on a developer's machine and a failure under CI."""
    found = find_chromium()
    if found is not None:
        return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is not installed, and under CI the browser tests must run (.ci/run installs it)")
    pytest.skip("headless Chromium is not installed (.ci/run installs it)")
