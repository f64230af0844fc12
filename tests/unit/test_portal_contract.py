"""SPEC's automation contract for the portal, checked in its sources: every label, button name and
data-testid that scripts outside this repository rely on is spelled there word for word. (The browser tests
use them too; this finds a rename in a second, without a browser.)"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

SOURCES = "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "portal" / "src").rglob("*.tsx")))

TEST_IDS = [
    "available",
    "balance",
    "reserved",
    "burn-chart",
    "depletion-date",
    "lot-row",
    "usage-chart",
    "usage-csv",
    "budget-row",
    "event-row",
    "simulate-result",
    "purchase-status",
    "secret",
    "action-row",
    "chain-status",
]
LABELS = ["API key", "Pack", "Quantity", "PO number", "Project", "Name", "Regions", "Comment"]
BUTTONS = ["Sign in", "Continue to checkout", "New license key", "Create license key", "Approve", "Deny", "Confirm"]
BUTTONS += ["Verify"]
LINKS = ["Overview", "Buy tokens", "Usage", "Projects", "Keys", "Approvals", "Events"]


@pytest.mark.parametrize("test_id", TEST_IDS)
def test_data_testids(test_id: str) -> None:
    assert re.search(rf'data-testid=\{{?"{re.escape(test_id)}"', SOURCES) or f'testId="{test_id}"' in SOURCES


@pytest.mark.parametrize("label", LABELS)
def test_labels(label: str) -> None:
    assert re.search(rf"<label[^>]*>\s*{re.escape(label)}\s*</label>", SOURCES), label


@pytest.mark.parametrize("name", BUTTONS)
def test_buttons(name: str) -> None:
    assert re.search(rf">\s*{re.escape(name)}\s*</button>", SOURCES), name


@pytest.mark.parametrize("name", LINKS)
def test_navigation_links(name: str) -> None:
    assert f'name: "{name}"' in SOURCES


def test_the_key_is_kept_in_session_storage_only() -> None:
    code = [p for p in (ROOT / "portal" / "src").rglob("*.ts*") if not p.name.endswith(".d.ts")]
    every = re.sub(r"//[^\n]*", "", "\n".join(p.read_text(encoding="utf-8") for p in code))  # code, not comments
    assert "sessionStorage.setItem" in every
    assert "localStorage" not in every and "cookie" not in every


def test_types_come_from_paths_not_schema_names() -> None:
    """The client's types are read from ``paths[...]`` (routes), never ``components["schemas"][...]``: the
    contract's schema names may change without the portal noticing."""
    code = [p for p in (ROOT / "portal" / "src").rglob("*.ts*") if not p.name.endswith(".d.ts")]
    assert code and not [p.name for p in code if "components[" in p.read_text(encoding="utf-8")]
