"""The document as people and generated clients read it (SPEC.md, "The API contract", second paragraph): a
verb operationId, a summary and a description naming the roles on every operation, the roles derived from
each route's gate and the one permission matrix, examples that the routes accept, timestamps as date-time,
integers as integers, public routes marked public, the outbound events under ``webhooks``, and refusals that
say what a pattern means instead of quoting it."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from infra.contract import access
from tollgate.core import limits
from tollgate.core.events import EVENT_TYPES
from tollgate.core.roles import PERMISSIONS, Permission, Role
from tollgate.edge.contract import sdk
from tollgate.edge.contract.access import roles_allowed
from tollgate.edge.contract.operations import OPERATIONS
from tollgate.edge.contract.published import PUBLISHED
from tollgate.edge.errors import refusal
from tollgate.events.models_payloads import DATA

METHODS = ("get", "post", "put", "patch", "delete")
VERB = re.compile(r"^(?:[a-z]+)(?:[A-Z][a-z0-9]*)*$")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(json.loads(PUBLISHED.read_text()))


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_every_route_has_an_operation_entry_with_verb_id_summary_and_description(document: dict[str, Any]) -> None:
    """A route added without an entry in tollgate/edge/contract/operations.py fails here, by name."""
    documented = dict(operations(document))
    missing = sorted(set(documented) - set(OPERATIONS))
    assert missing == [], (
        "routes without an entry in shared/tollgate/edge/contract/operations.py (add "
        '`"METHOD path": Operation("verbNoun", "Summary", "Description.")` for each, then `make contract`): '
        + ", ".join(missing)
    )
    stale = sorted(set(OPERATIONS) - set(documented))
    assert stale == [], f"operations.py entries for routes the document does not have: {stale}"
    ids = [operation["operationId"] for operation in documented.values()]
    assert len(ids) == len(set(ids)), "operationIds repeat"
    for key, operation in documented.items():
        method, path = key.split(" ", 1)
        assert VERB.fullmatch(operation["operationId"]), (key, operation["operationId"])
        assert "_" not in operation["operationId"], key  # not Powertools' get_balance_v1_balance_get
        summary = operation.get("summary", "")
        assert summary and path not in summary and not summary.startswith(method), (key, summary)
        assert len(operation.get("description", "")) > 40, key


def test_every_description_names_who_may_call_from_the_route_s_gate(document: dict[str, Any]) -> None:
    who, public = access()
    for key, operation in operations(document):
        assert key in who, f"{key}: no gate states who may call it (register it on a CapabilityRouter)"
        assert operation["description"].endswith(who[key]), key
        assert ("**Roles allowed:**" in who[key]) or ("**Who may call:**" in who[key]), key
    # public routes: marked so, and so in the document; the document's default is an API key
    assert public == {"POST /v1/tenants", "GET /v1/openapi.json", "GET /v1/.well-known/jwks.json"} | {
        "POST /v1/stripe/webhook"
    }
    ops = dict(operations(document))
    for key in public:
        assert ops[key]["security"] == [], key
    assert document["security"] == [{"apiKey": []}]


@pytest.mark.parametrize(
    ("key", "permission"),
    [
        ("GET /v1/decisions", Permission.READ_DECISIONS),
        ("GET /v1/usage.csv", Permission.READ_USAGE),
        ("POST /v1/keys", Permission.MANAGE_LICENSE_KEYS),
        ("POST /v1/consume", Permission.CONSUME),
    ],
)
def test_roles_in_the_description_are_the_matrix_s(document: dict[str, Any], key: str, permission: Permission) -> None:
    description = dict(operations(document))[key]["description"]
    named = re.search(r"\*\*Roles allowed:\*\* ([a-z, ]+) \(API keys\)", description)
    assert named is not None, description
    expected = [role for role in Role if permission in PERMISSIONS[role]]
    assert named.group(1).split(", ") == [role.value for role in expected]
    assert expected == roles_allowed(permission)


def test_document_declares_servers_license_and_tags(document: dict[str, Any]) -> None:
    assert document["servers"] and document["info"]["license"]["name"]
    used = {tag for _, operation in operations(document) for tag in operation.get("tags", [])}
    assert used <= {tag["name"] for tag in document["tags"]}


def _models() -> dict[str, type[BaseModel]]:
    """Every request and answer model: each capability's ``models*.py`` modules, found (not listed)."""
    import tollgate

    root = Path(tollgate.__file__).parent
    modules = [
        importlib.import_module("tollgate." + ".".join(path.relative_to(root).with_suffix("").parts))
        for path in sorted(root.glob("*/models*.py"))
    ]
    return {
        name: model
        for module in modules
        for name, model in vars(module).items()
        if isinstance(model, type) and issubclass(model, BaseModel)
    }


def test_every_request_body_has_an_example_its_model_accepts(document: dict[str, Any]) -> None:
    models = _models()
    for key, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None or key == "POST /v1/stripe/webhook":  # Stripe writes that body, not a person
            continue
        assert "example" in content, f"{key}: no example body (model_config = example({{...}}) on its model)"
        name = content["schema"]["$ref"].rsplit("/", 1)[-1]
        if name in models:
            models[name].model_validate_json(json.dumps(content["example"]))  # raises if the model refuses it
        else:
            assert name in sdk.SCHEMAS, name  # declared: tests/unit/test_contract_sdk.py runs it through its parser


def test_examples_are_not_generated_from_patterns(document: dict[str, Any]) -> None:
    text = json.dumps([op.get("requestBody") for _, op in operations(document)])
    assert "zz{" not in text and "string" not in re.findall(r'"example": "([^"]*)"', text)


def _properties(node: Any, trail: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for name, schema in (node.get("properties") or {}).items():
            yield f"{trail}.{name}", schema
        for key, value in node.items():
            yield from _properties(value, f"{trail}/{key}")
    elif isinstance(node, list):
        for value in node:
            yield from _properties(value, trail)


def _is_string(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "string" for option in options)


def test_every_timestamp_is_a_date_time(document: dict[str, Any]) -> None:
    for where, schema in _properties(document):
        name = where.rsplit(".", 1)[-1]
        if (name.endswith("_at") or name in {"timestamp", "failing_since"}) and _is_string(schema):
            strings = [option for option in schema.get("anyOf", [schema]) if option.get("type") == "string"]
            formats = {option.get("format") for option in strings}
            assert formats == {"date-time"}, where


def test_page_limits_are_integers_and_no_accept_parameter(document: dict[str, Any]) -> None:
    for key, operation in operations(document):
        for parameter in operation.get("parameters", []):
            assert parameter["name"].lower() != "accept", f"{key}: a content type is an answer's, not a parameter"
            if parameter["name"] == "limit":
                assert parameter["schema"]["type"] == "integer", key
                assert (parameter["schema"]["minimum"], parameter["schema"]["maximum"]) == (1, limits.PAGE_LIMIT_MAX)


def test_csv_and_ndjson_are_declared_content_types(document: dict[str, Any]) -> None:
    ops = dict(operations(document))
    assert set(ops["GET /v1/usage.csv"]["responses"]["200"]["content"]) == {"text/csv"}
    assert set(ops["GET /v1/usage"]["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert set(ops["GET /v1/decisions/export"]["responses"]["200"]["content"]) == {"application/x-ndjson"}


def test_policy_headers(document: dict[str, Any]) -> None:
    ops = dict(operations(document))
    if_match = [p for p in ops["PUT /v1/policy"]["parameters"] if p["name"].lower() == "if-match"]
    assert len(if_match) == 1 and if_match[0]["required"] is True
    assert "428" in ops["PUT /v1/policy"]["responses"]
    assert "ETag" in ops["GET /v1/policy"]["responses"]["200"]["headers"]
    assert "ETag" in ops["PUT /v1/policy"]["responses"]["200"]["headers"]


def test_one_lease_and_one_error(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "Lease" in schemas and "Error" in schemas and "ErrorAnswer" not in schemas
    text = PUBLISHED.read_text()
    assert text.count('"heartbeat_interval_s": {') == 1  # the Lease's fields once, in its one schema
    for key, operation in operations(document):
        for status, answer in operation["responses"].items():
            for media in answer.get("content", {}).values():
                schema = media.get("schema", {})
                assert schema.get("type") != "object" or not schema.get("properties"), (key, status, "inline shape")


def test_webhooks_are_every_event_type_with_a_typed_payload(document: dict[str, Any]) -> None:
    assert set(document["webhooks"]) == set(EVENT_TYPES) == set(DATA)
    schemas = document["components"]["schemas"]
    for event_type, item in document["webhooks"].items():
        ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        payload = schemas[ref.rsplit("/", 1)[-1]]
        assert payload["properties"]["type"]["const"] == event_type
        assert payload["properties"]["timestamp"]["format"] == "date-time"
        assert payload["properties"]["data"]["$ref"].endswith(DATA[event_type].__name__)


def test_every_pattern_of_the_document_has_a_meaning_in_words(document: dict[str, Any]) -> None:
    patterns = set(re.findall(r'"pattern": ("(?:[^"\\]|\\.)*")', PUBLISHED.read_text()))
    unexplained = [json.loads(p) for p in patterns if limits.pattern_meaning(json.loads(p)).startswith("is not in")]
    assert unexplained == []


def test_a_pattern_refusal_says_what_is_expected_not_the_regex() -> None:
    problem = {
        "loc": ("body", "email"),
        "type": "string_pattern_mismatch",
        "msg": f"String should match pattern '{limits.EMAIL_PATTERN}'",
        "ctx": {"pattern": limits.EMAIL_PATTERN},
    }
    error = refusal([problem])
    assert error.message.endswith("must be an e-mail address (name@example.com)")
    assert "^" not in error.message and "\\" not in error.message


def test_an_event_s_data_is_typed_by_the_payload_models(document: dict[str, Any]) -> None:
    data = document["components"]["schemas"]["Event"]["properties"]["data"]
    refs = {option["$ref"].rsplit("/", 1)[-1] for option in data["anyOf"]}
    assert refs == {model.__name__ for model in DATA.values()}
    assert all(name in document["components"]["schemas"] for name in refs)


def test_the_fuzzer_s_settings_name_operations_the_document_has(document: dict[str, Any]) -> None:
    """infra/schemathesis.toml picks operations by operationId: a rename must not silently drop a setting."""
    import tomllib

    from tests.conftest import ROOT

    ids = {operation["operationId"] for _, operation in operations(document)}
    settings = tomllib.loads((ROOT / "infra" / "schemathesis.toml").read_text())
    for chosen in settings["operations"]:
        if "include-operation-id" in chosen:
            assert chosen["include-operation-id"] in ids, chosen
        if "include-operation-id-regex" in chosen:
            alternatives = chosen["include-operation-id-regex"].strip("^$()").split("|")
            assert set(alternatives) <= ids, set(alternatives) - ids
