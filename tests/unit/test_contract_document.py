"""The published OpenAPI document: current with the code, valid OpenAPI 3.1, every route of template.yaml,
every answer a route can give."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from openapi_spec_validator import validate

from infra.contract import build, render
from infra.local.template import load_template
from tests.conftest import ROOT, TEMPLATE
from tollgate.edge.contract.answers import ERROR_REF, SECURITY_SCHEMES
from tollgate.edge.contract.published import PUBLISHED

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(PUBLISHED.read_text()))


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path with its parameters unnamed) → operation."""
    return {
        (method.upper(), re.sub(r"\{[^}]+\}", "{}", path)): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_published_document_is_what_the_code_generates() -> None:
    assert PUBLISHED.read_text() == render(build()), "run: python -m infra.contract"


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema or a dangling $ref
    leaked = re.findall(r'"(ge|le|gt|lt)": ', PUBLISHED.read_text())
    assert leaked == [], "pydantic bounds that JSON Schema does not know (a validator before Field?)"


def test_document_has_every_route_of_the_template_and_no_other() -> None:
    served = [route for route in load_template(TEMPLATE).routes if route.path != "$default"]  # the catch-all
    routes = {(route.method, re.sub(r"\{[^}]+\}", "{}", route.path)) for route in served}
    documented = set(operations(json.loads(PUBLISHED.read_text())))
    assert routes - documented == set(), "routes without a contract"
    assert documented - routes == set(), "documented routes that template.yaml does not serve"


def test_every_route_declares_its_refusals_in_the_error_envelope(document: dict[str, Any]) -> None:
    assert set(document["components"]["securitySchemes"]) == set(SECURITY_SCHEMES)
    for (method, path), operation in operations(document).items():
        answers = operation["responses"]
        assert any(status.startswith("2") for status in answers), (method, path)
        assert {"429", "503"} <= set(answers), (method, path)
        if operation.get("security"):
            assert "401" in answers, (method, path)
        if "{}" in path:
            assert "404" in answers, (method, path)
        if "requestBody" in operation:
            assert {"400", "422"} <= set(answers) or path == "/v1/stripe/webhook", (method, path)
        for status, answer in answers.items():
            if status >= "400":
                assert answer["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (method, path, status)


def test_credentials_are_declared_per_surface(document: dict[str, Any]) -> None:
    ops = operations(document)
    public = {("POST", "/v1/tenants"), ("GET", "/v1/openapi.json"), ("GET", "/v1/.well-known/jwks.json")}
    public.add(("POST", "/v1/stripe/webhook"))
    for key, operation in ops.items():
        schemes = {name for requirement in operation.get("security") or [] for name in requirement}
        if key in public:
            assert schemes == set(), key
        elif key[1] == "/v1/consume" or key[1].startswith(("/v1/leases", "/v1/allowances")):
            assert schemes == {"licenseKey", "apiKey"}, key
        elif key[1].startswith("/v1/actions") and not key[1].endswith("/reviews"):
            assert schemes == {"licenseKey", "apiKey"}, key  # the requester's routes: the SDK asks too
        elif key[1] == "/v1/validate":
            assert schemes == {"licenseKey"}, key
        else:
            assert schemes == {"apiKey"}, key


def test_bounds_come_from_limits(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    budget = schemas["ProjectBody"]["properties"]["budget"]["anyOf"][0]
    assert (budget["minimum"], budget["maximum"]) == (0, 10**15)
    signup = document["paths"]["/v1/tenants"]["post"]["parameters"]
    key = next(p for p in signup if p["name"].lower() == "idempotency-key")
    assert key["schema"]["minLength"] == 32 and key["required"] is False


@pytest.mark.parametrize("function", ["usage", "validate"])
def test_hot_path_functions_do_not_load_pydantic(function: str) -> None:
    code = (
        f"import sys; sys.path[:0] = ['functions/{function}', 'shared']; import app; "
        "print(','.join(m for m in ('pydantic', 'tollgate.core.schema') if m in sys.modules))"
    )
    env = dict(os.environ, TOLLGATE_DDB_ENDPOINT="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_page_limit_pattern_is_exactly_one_to_the_maximum() -> None:
    from tollgate.core import limits

    allowed = {n for n in range(0, 10 * limits.PAGE_LIMIT_MAX) if re.fullmatch(limits.PAGE_LIMIT_PATTERN, str(n))}
    assert allowed == set(range(1, limits.PAGE_LIMIT_MAX + 1))
    assert not any(re.fullmatch(limits.PAGE_LIMIT_PATTERN, text) for text in ("01", "²", "٣", " 1", "+1", "1_0"))
