"""The browser tests skip without Chromium on a developer's machine and fail under CI (`.ci/run` sets CI=1):
a broken Chromium install can never pass in CI as skipped tests."""

from __future__ import annotations

import pytest

from tests.integration import browser


def test_without_chromium_ci_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser.shutil, "which", lambda _: None)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="under CI the browser tests must run"):
        browser.chromium_or_skip()


def test_without_chromium_outside_ci_the_test_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser.shutil, "which", lambda _: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        browser.chromium_or_skip()


def test_with_chromium_its_path_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser.shutil, "which", lambda name: f"/opt/{name}" if name == "chromium" else None)
    monkeypatch.setenv("CI", "1")
    assert browser.chromium_or_skip() == "/opt/chromium"
