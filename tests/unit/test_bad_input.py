"""Bad input, in process (SPEC.md, "Bad input, concretely"; invariant 8): sealed page cursors, path ids of
another shape, bounded grants, views of out-of-range stored times, log lines that survive what a caller
sends, and the route table that answers 404 and 405."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import logging
from collections.abc import Callable
from typing import Any

import botocore.client
import pytest
import yaml

from tests.conftest import ROOT, TEMPLATE
from tests.unit.conftest import FakePayments
from tollgate.core import limits
from tollgate.core.clock import FixedClock
from tollgate.core.errors import InvalidField, NotFound
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Lot, Pool, Principal
from tollgate.edge.routes import ROUTES, allowed_methods, no_route
from tollgate.edge.views import balance_view, iso
from tollgate.kernel.cursors import Cursors
from tollgate.pool.rules import LotView
from tollgate.pool.service import BalanceView, PoolService
from tollgate.tenancy.service import SignupRequest, TenantService

NOW = 1_800_000_000
_real_call = botocore.client.BaseClient._make_api_call


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        sent.append(operation)
        return _real_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return sent


def old_style(document: dict[str, Any]) -> str:
    """A cursor as the API used to issue them (base64 JSON): what anyone can write by hand."""
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


# ------------------------------------------------------------------------------------------ cursors


def test_a_sealed_cursor_opens_only_for_its_tenant_and_listing() -> None:
    cursors = Cursors(lambda: "pepper")
    cursor = cursors.seal("ledger", "tn_0000000000000001", {"sk": "x", "b": 7})
    assert cursors.open("ledger", "tn_0000000000000001", cursor) == {"sk": "x", "b": 7}
    tag = cursor.partition(".")[2]
    forged_payload = base64.urlsafe_b64encode(b'{"b":9,"sk":"x"}').decode().rstrip("=")
    refused = [
        ("ledger", "tn_0000000000000002", cursor),  # another tenant
        ("purchases", "tn_0000000000000001", cursor),  # another listing
        ("ledger", "tn_0000000000000001", f"{forged_payload}.{tag}"),  # the balance changed
        ("ledger", "tn_0000000000000001", old_style({"sk": "x", "b": 7})),
        ("ledger", "tn_0000000000000001", "x" * 5000),
        ("ledger", "tn_0000000000000001", "\ud800." + tag),
    ]
    for kind, tenant, text in refused:
        with pytest.raises(InvalidField) as error:
            cursors.open(kind, tenant, text)
        assert error.value.field == "cursor"
    with pytest.raises(InvalidField):
        Cursors(lambda: "another pepper").open("ledger", "tn_0000000000000001", cursor)


class Pools:
    def __init__(self) -> None:
        from tollgate.pool.store import DynamoPoolRepository
        from tollgate.purchases.store_catalog import DynamoCatalogRepository
        from tollgate.tenancy.store import DynamoTenantRepository

        self.clock = FixedClock(NOW)
        self.tenants = TenantService(DynamoTenantRepository(), FakePayments(), self.clock, RANDOM_IDS, lambda: "p")
        self.repo = DynamoPoolRepository()
        self.pool = PoolService(self.repo, DynamoCatalogRepository(self.clock), self.clock, RANDOM_IDS)

    def tenant(self, *grants: int) -> Principal:
        issued = self.tenants.sign_up(SignupRequest("Acme", "a@acme.example", "eu-west-1"), None).owner_key
        for tokens in grants:
            self.clock.advance(1)
            self.pool.grant(issued.key.tenant_id, tokens, "test credit", "operator:test")
        return self.tenants.authenticate(issued.secret)


@pytest.fixture
def pools(table: str) -> Pools:
    return Pools()


def test_ledger_pages_carry_the_running_balance_and_forged_cursors_are_refused_before_any_read(
    pools: Pools, dynamodb_calls: list[str]
) -> None:
    caller = pools.tenant(10, 20, 30)
    first = pools.pool.ledger(caller, None, 1)
    second = pools.pool.ledger(caller, first.cursor, 1)
    third = pools.pool.ledger(caller, second.cursor, 1)
    assert [p.entries[0].balance_after for p in (first, second, third)] == [60, 30, 10]
    sk = f"{second.entries[0].created_at:012d}#{second.entries[0].id}"
    other = pools.tenant(5)
    dynamodb_calls.clear()
    for cursor in (
        old_style({"sk": sk, "b": 1_000_000}),  # would set balance_after on every later page
        old_style({"sk": ""}),
        old_style({"sk": "", "b": 0}),
        "eyJiIjogMWU5OTl9",  # {"b": 1e999}
        str(first.cursor)[:-2] + "AA",
    ):
        with pytest.raises(InvalidField) as error:
            pools.pool.ledger(caller, cursor, 1)
        assert error.value.field == "cursor"
    with pytest.raises(InvalidField):
        pools.pool.ledger(other, first.cursor, 1)  # issued to another tenant
    assert dynamodb_calls == []


def test_forged_purchase_cursors_are_refused_before_any_read(table: str, dynamodb_calls: list[str]) -> None:
    from tollgate.kernel.cursors import CURSORS, LEDGER_CURSOR
    from tollgate.purchases.store import DynamoPurchaseRepository

    repo = DynamoPurchaseRepository()
    tenant = "tn_0000000000000001"
    ledger_cursor = CURSORS.seal(LEDGER_CURSOR, tenant, {"sk": "PURCHASE#pu_0000000000000000", "b": 1})
    for cursor in (old_style({"sk": "PURCHASE#pu_0000000000000000"}), old_style({"sk": ""}), ledger_cursor):
        with pytest.raises(InvalidField) as error:
            repo.page(tenant, cursor, 10)
        assert error.value.field == "cursor"
    assert dynamodb_calls == []


# ------------------------------------------------------------------------------------------ path ids

BAD_IDS = ["x" * 2000, "pj_000000000000000", "ak_0000000000000000 ", "lk_000000000000000i", "..", "\ud800", ""]


def _path_id_operations() -> list[tuple[str, Callable[[str], Any]]]:
    from tollgate.events.store_alerts import DynamoAlertRepository
    from tollgate.holds.store import DynamoAllowanceRepository, DynamoLeaseRepository
    from tollgate.keys.store import DynamoLicenseKeyRepository
    from tollgate.tenancy.store import DynamoTenantRepository
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    tenant = "tn_0000000000000001"
    keys, projects = DynamoLicenseKeyRepository(), DynamoProjectRepository()
    return [
        ("DELETE /v1/api-keys/{id}", lambda i: DynamoTenantRepository().revoke_api_key(tenant, i, NOW)),
        ("PATCH /v1/projects/{id}", lambda i: projects.update(tenant, i, "n", 5)),
        ("GET project", lambda i: projects.get(tenant, i)),
        ("DELETE /v1/keys/{id}", lambda i: keys.revoke_license_key(tenant, i, NOW)),
        ("POST /v1/keys/{id}/rotate", lambda i: keys.replace_secret(tenant, i, "0" * 64, "d", NOW)),
        ("GET license key", lambda i: keys.get_license_key(tenant, i)),
        ("leases", lambda i: DynamoLeaseRepository().get(tenant, i)),
        ("allowances", lambda i: DynamoAllowanceRepository().get(tenant, i)),
        ("DELETE /v1/alerts/{id}", lambda i: DynamoAlertRepository().delete(tenant, i)),
    ]


def test_path_ids_of_another_shape_are_not_found_before_any_read(table: str, dynamodb_calls: list[str]) -> None:
    from tollgate.purchases.store import DynamoPurchaseRepository

    for name, operation in _path_id_operations():
        for bad in BAD_IDS:
            with pytest.raises(NotFound):
                operation(bad)
            assert dynamodb_calls == [], (name, bad)
    for bad in BAD_IDS:
        assert DynamoPurchaseRepository().find("tn_0000000000000001", bad) is None
    assert dynamodb_calls == []


def test_ids_the_services_make_have_the_shape_the_check_accepts() -> None:
    from tollgate.tenancy.service import _DerivedIds

    derived = _DerivedIds("pepper", "a" * 36)
    assert limits.is_id(derived.tenant_id(), "tn") and limits.is_id(derived.key_id(), "ak")
    for prefix in ("ak", "lk", "pj", "pu", "lease", "al", "alr"):
        assert limits.is_id(RANDOM_IDS.new_id(prefix), prefix)


# ------------------------------------------------------------------------------------------ grants and views


def test_grants_beyond_the_bounds_are_refused(pools: Pools, dynamodb_calls: list[str]) -> None:
    caller = pools.tenant()
    dynamodb_calls.clear()
    for tokens, valid_days in ((5, 3_000_000), (5, limits.MAX_VALID_DAYS + 1), (limits.MAX_TOKENS + 1, None)):
        with pytest.raises(InvalidField):
            pools.pool.grant(caller.tenant_id, tokens, "too much", "operator:test", valid_days)
    with pytest.raises(InvalidField):
        pools.pool.grant(caller.tenant_id, 5, "bad\x00reason", "operator:test")
    assert dynamodb_calls == []
    pools.pool.grant(caller.tenant_id, limits.MAX_TOKENS, "the most", "operator:test", limits.MAX_VALID_DAYS)
    assert pools.repo.pool(caller.tenant_id).balance == limits.MAX_TOKENS


def test_a_stored_time_out_of_range_is_shown_at_the_end_of_the_range() -> None:
    assert iso(NOW + 3_000_000 * 86_400) == "9999-12-31T23:59:59Z"
    assert iso(-(10**20)) == "1970-01-01T00:00:00Z"
    lot = Lot("lot_0000000000000000", "tn_0000000000000001", 5, 5, NOW, expires_at=NOW + 3_000_000 * 86_400)
    view = balance_view(BalanceView(Pool(5, 0), [LotView(lot, 5)]))
    assert view["lots"][0]["expires_at"] == "9999-12-31T23:59:59Z"


# ------------------------------------------------------------------------------------------ logs


def _powertools_logger(service: str) -> tuple[Any, io.StringIO]:
    """A Powertools logger of its own (the shared one keeps the stream of the test that made it first)."""
    from aws_lambda_powertools import Logger

    from tollgate.core.redaction import RedactSecrets

    stream = io.StringIO()
    logger = Logger(service=service, logger_handler=logging.StreamHandler(stream))
    logger.addFilter(RedactSecrets())
    return logger, stream


def test_a_log_line_survives_lone_surrogates_and_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    from tollgate.core.jsonlog import get_json_logger

    logger, stream = _powertools_logger("edge-log-test")
    logger.info("refused \ud800", extra={"reason": "feature \ud800\x00\x1b[2J", "path": "/v1/leases/\udfff"})
    get_json_logger("edge-test").info("refused \ud800", extra={"reason": "feature \ud800\x1b"})
    captured = capsys.readouterr()
    [powertools] = stream.getvalue().strip().splitlines()  # Powertools writes UTF-8: surrogates replaced
    entry = json.loads(powertools)
    assert entry["message"] == "refused \ufffd" and entry["reason"].startswith("feature \ufffd")
    [light] = captured.out.strip().splitlines()  # the light logger writes ASCII JSON: surrogates escaped
    assert json.loads(light)["reason"] == "feature \ud800\x1b" and "Logging error" not in captured.err


# ------------------------------------------------------------------------------------------ routes


def test_the_route_table_is_the_templates() -> None:
    from infra.local.template import load_template

    declared = {(r.method, r.path) for r in load_template(TEMPLATE).routes if r.path != "$default"}
    assert set(ROUTES) == declared and len(ROUTES) == len(declared)
    defaults = [r for r in load_template(TEMPLATE).routes if r.path == "$default"]
    assert [r.function_id for r in defaults] == ["FallbackFunction"]
    resource = yaml.safe_load(TEMPLATE.read_text().replace("!", ""))["Resources"]["FallbackFunction"]
    assert "Policies" not in resource["Properties"]  # reads and writes nothing


def test_no_route_is_405_with_allow_or_404() -> None:
    assert allowed_methods("/v1/api-keys") == ["GET", "POST"]
    assert allowed_methods("/v1/keys/lk_0000000000000000/rotate") == ["POST"]
    assert no_route("DELETE", "/v1/tenant").code == "METHOD_NOT_ALLOWED"
    assert no_route("GET", "/v1/tenants/x").code == "NOT_FOUND"
    assert no_route("GET", "/v1/keys//rotate").code == "NOT_FOUND"


@pytest.fixture
def fallback() -> Any:
    spec = importlib.util.spec_from_file_location("fallback_app", ROOT / "functions" / "fallback" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(method: str, path: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "headers": {},
        "requestContext": {"requestId": "req-9", "stage": "$default", "http": {"method": method, "path": path}},
        "isBase64Encoded": False,
    }


def test_the_fallback_function_answers_in_the_envelope(fallback: Any) -> None:
    answer = fallback.handler(_event("PUT", "/v1/projects/pj_0000000000000000"), None)
    assert (answer["statusCode"], answer["headers"]["Allow"]) == (405, "PATCH")
    assert json.loads(answer["body"])["error"] == {
        "code": "METHOD_NOT_ALLOWED",
        "message": "use PATCH on this path",
        "request_id": "req-9",
    }
    answer = fallback.handler(_event("GET", "/favicon.ico"), None)
    assert answer["statusCode"] == 404 and json.loads(answer["body"])["error"]["code"] == "NOT_FOUND"


def test_the_powertools_resolvers_answer_no_route_in_the_envelope() -> None:
    from tollgate.edge.app import build_resolver, json_response
    from tollgate.edge.routing import PUBLIC, CapabilityRouter

    router: CapabilityRouter[object] = CapabilityRouter()

    @router.get("/v1/balance", permission=PUBLIC)
    def balance() -> Any:
        return json_response(200, {})

    app = build_resolver(_powertools_logger("edge-resolver-test")[0], routers=[router])

    for method, path, status in (("POST", "/v1/balance", 405), ("GET", "/v1/nowhere", 404)):
        answer = app.resolve(_event(method, path), None)  # type: ignore[arg-type]
        assert answer["statusCode"] == status
        assert json.loads(answer["body"])["error"]["code"] in ("METHOD_NOT_ALLOWED", "NOT_FOUND")


def test_license_key_expiry_out_of_range_is_refused_and_stores_nothing(table: str) -> None:
    import boto3

    from tests.unit.conftest import raw_items
    from tests.unit.licensing import Licensing

    world = Licensing(boto3.Session().client("dynamodb", region_name="us-east-1"))
    owner = world.owner()
    before = raw_items(table)
    for expires_at in ("9999-12-31T23:59:59-23:59", "2099-01-01T00:00:00Z", "1999-12-31T23:59:59Z"):
        with pytest.raises(InvalidField) as error:
            world.issue(owner, expires_at=expires_at)
        assert error.value.field == "expires_at"
    assert raw_items(table) == before
    world.issue(owner, expires_at="2030-01-01T00:00:00Z")  # NOW is 2027; within ten years


def test_project_budgets_beyond_the_token_bound_are_refused(pools: Pools, dynamodb_calls: list[str]) -> None:
    from tollgate.tenancy.service_projects import ProjectService
    from tollgate.tenancy.store_projects import DynamoProjectRepository

    projects = ProjectService(DynamoProjectRepository(), pools.clock, RANDOM_IDS)
    owner = pools.tenant()
    project = projects.create(owner, "farm", limits.MAX_TOKENS)
    dynamodb_calls.clear()
    for budget in (10**200, 10**38, limits.MAX_TOKENS + 1, -1):
        with pytest.raises(InvalidField) as created:
            projects.create(owner, "farm", budget)
        with pytest.raises(InvalidField) as updated:
            projects.update(owner, project.id, None, budget)
        assert created.value.field == updated.value.field == "budget"
    assert dynamodb_calls == []
