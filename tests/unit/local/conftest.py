from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.gateway import Gateway
from infra.local.template import load_template
from tests.unit.local.helpers import write_fake_app


@pytest.fixture(scope="module")
def fake_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_app(tmp_path_factory.mktemp("fake-app"))


@pytest.fixture(scope="module")
def gateway(fake_template: Path) -> Iterator[Gateway]:
    """The fake app served on a free port, schedules off, with one local override of the environment."""
    template = load_template(fake_template, table_name="local-table")
    with Gateway(template, workers=3, schedules=False, environment={"PINNED": "from-local"}) as running:
        yield running
