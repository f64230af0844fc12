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
GATED_FUNCTIONS = (*GENERATED_FUNCTIONS, "usage", "stripe_webhook")  # their routes' gates say who may call


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


def access() -> tuple[dict[str, str], frozenset[str]]:
    """``METHOD path`` → who may call it, read from each route's gate (and ``UNGATED`` for the validate
    function's two routes); and the routes that are public."""
    from tollgate.edge.contract.access import UNGATED, gate_text
    from tollgate.edge.routing import PUBLIC, gate_of

    who: dict[str, str] = dict(UNGATED)
    public = {key for key, text in UNGATED.items() if "public" in text}
    for name in GATED_FUNCTIONS:
        app = _function(name).app
        for route in app._static_routes + app._dynamic_routes:  # Powertools' registered routes
            gate = gate_of(route.middlewares)
            if gate is None:
                continue
            key = f"{route.method} {route.openapi_path}"
            who[key] = gate_text(gate)
            if gate.access is PUBLIC:
                public.add(key)
    return who, frozenset(public)


def webhooks() -> tuple[dict[str, Any], dict[str, str]]:
    """The outbound events' payload schemas (``tollgate.events.models_payloads``), and each type's."""
    from pydantic.json_schema import models_json_schema

    from tollgate.edge.contract.document import SCHEMAS
    from tollgate.events.models_payloads import WEBHOOK_EVENTS

    models = list(WEBHOOK_EVENTS.values())
    names, schema = models_json_schema([(m, "serialization") for m in models], ref_template=SCHEMAS + "{model}")
    by_type = {
        event: names[(model, "serialization")]["$ref"].removeprefix(SCHEMAS) for event, model in WEBHOOK_EVENTS.items()
    }
    return dict(schema.get("$defs", {})), by_type


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
    who, public = access()
    return merge(parts, who, public, webhooks())


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
