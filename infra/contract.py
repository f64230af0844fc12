"""Builds the API's OpenAPI document from the code: ``python -m infra.contract`` writes it,
``python -m infra.contract --check`` fails when the committed one differs from what the code says.

The portal's and signup's parts come from Powertools (their pydantic models); the SDK and webhook parts
are declared as plain data (``tollgate.edge.contract``). The portal serves the written file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATED_FUNCTIONS = ("portal", "signup", "approvals")  # the functions whose part Powertools generates


def _function(name: str) -> ModuleType:
    module_name = f"fn_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def build() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from tollgate.edge.contract.answers import SECURITY_SCHEMES
    from tollgate.edge.contract.document import TITLE, VERSION, merge

    schemes: dict[str, Any] = {name: HTTPBearer() for name in SECURITY_SCHEMES}
    parts = [
        json.loads(
            _function(name).app.get_openapi_json_schema(
                title=TITLE, version=VERSION, openapi_version="3.1.0", security_schemes=schemes
            )
        )
        for name in GENERATED_FUNCTIONS
    ]
    return merge(parts)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed document is out of date")
    args = parser.parse_args(argv)
    from tollgate.edge.contract.published import PUBLISHED

    text = render(build())
    if args.check:
        if not PUBLISHED.exists() or PUBLISHED.read_text() != text:
            print(f"{PUBLISHED.relative_to(ROOT)} is out of date: run python -m infra.contract", file=sys.stderr)
            return 1
        return 0
    PUBLISHED.write_text(text)
    print(f"wrote {PUBLISHED.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "shared"))
    raise SystemExit(main())
