"""Seeds the local table with the default catalog (``infra/catalog.json``), through the data layer."""

from __future__ import annotations

import os
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "catalog.json"


def seed(endpoint: str, table_name: str) -> None:
    os.environ.setdefault("TOLLGATE_DDB_ENDPOINT", endpoint)
    os.environ.setdefault("TABLE_NAME", table_name)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    from infra.cli.commands.catalog import load_catalog

    load_catalog(str(CATALOG))
