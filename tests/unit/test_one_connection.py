"""Every DynamoDB call goes through the one client (``tollgate.kernel.client``): its timeouts, botocore's
retries off, our retry layer on, all inside the function's time. Checked three ways: every pynamodb item
type the layer defines, every client and connection the code builds, and the source (no other place builds
a ``Connection`` or a botocore client). Each check is shown to catch a planted default."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import yaml
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

import tollgate
from tests.conftest import TEMPLATE
from tollgate.core.settings import settings
from tollgate.kernel import client as one_client
from tollgate.kernel.connection import SharedClientConnection, shared_connection
from tollgate.kernel.table import TableModel

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "shared" / "tollgate", ROOT / "functions")
BUILDERS = ("shared/tollgate/kernel/client.py", "shared/tollgate/kernel/connection.py")
# Building a client or a pynamodb connection: pynamodb's Connection/TableConnection, boto3, botocore.
_BUILDS = re.compile(
    r"\b(?:Table)?Connection\(|\bboto3\.(?:client|resource)\(|\.client\(\s*['\"]dynamodb|\bcreate_client\("
)


def _every_model() -> list[type[Model]]:
    for module in pkgutil.walk_packages(tollgate.__path__, "tollgate."):
        importlib.import_module(module.name)
    found: list[type[Model]] = []
    pending: list[type[Model]] = [Model]
    while pending:
        for subclass in pending.pop().__subclasses__():
            pending.append(subclass)
            if subclass.__module__.startswith("tollgate.") and subclass is not TableModel:
                found.append(subclass)
    return found


def misconfigured(models: list[type[Model]]) -> list[str]:
    """Each item type whose settings or connection are not the one client's."""
    connect, read = one_client.timeouts()
    wrong = []
    for model in models:
        meta = model.Meta
        settings_seen = (meta.connect_timeout_seconds, meta.read_timeout_seconds, meta.max_retry_attempts)
        if not issubclass(model, TableModel) or settings_seen != (connect, read, 0):
            wrong.append(f"{model.__module__}.{model.__name__}: {settings_seen}")
            continue
        connection = model._get_connection().connection
        if not isinstance(connection, SharedClientConnection) or connection.client is not one_client.shared_client():
            wrong.append(f"{model.__module__}.{model.__name__}: its own client")
    return wrong


def stray_builders(roots: tuple[Path, ...] = SOURCES) -> list[str]:
    """Each line, outside the two modules that build them, that builds a client or a pynamodb connection."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.as_posix()
            if where in BUILDERS:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _BUILDS.search(line.split("#")[0]):
                    found.append(f"{where}:{number}: {line.strip()}")
    return found


def test_every_item_type_sends_through_the_one_client(table: str) -> None:
    models = _every_model()
    assert len(models) > 20  # every item type of kernel/items.py and the stores' own
    assert misconfigured(models) == []


def test_a_model_with_pynamodb_defaults_is_caught() -> None:
    class Planted(Model):
        class Meta:
            table_name = "planted"

    class PlantedTimeouts(TableModel):
        class Meta(TableModel.Meta):
            read_timeout_seconds = 30

    assert [line.split(":")[0] for line in misconfigured([Planted, PlantedTimeouts])] == [
        f"{__name__}.Planted",
        f"{__name__}.PlantedTimeouts",
    ]


def test_an_item_type_never_borrows_its_parents_connection() -> None:
    """pynamodb reuses an inherited connection, and with it the parent's schema (a query on the item type's
    own index then fails with "has no index"): each item type gets its own."""

    class _Due(GlobalSecondaryIndex["Fresh"]):
        class Meta:
            index_name = "by_due"
            projection = KeysOnlyProjection()

        due_shard = UnicodeAttribute(hash_key=True)
        due_at = NumberAttribute(range_key=True)

    class Fresh(TableModel):
        by_due = _Due()
        due_shard = UnicodeAttribute(null=True)
        due_at = NumberAttribute(null=True)

    TableModel._get_connection()  # the base's connection, without any index
    connection = Fresh._get_connection()
    assert connection is not TableModel._get_connection()
    assert connection.get_meta_table().get_index_hash_keyname("by_due") == "due_shard"


def test_no_code_builds_a_client_or_connection_but_the_kernel() -> None:
    assert stray_builders() == []


def test_a_planted_connection_or_client_is_caught(tmp_path: Path) -> None:
    planted = tmp_path / "store_planted.py"
    planted.write_text(
        "from pynamodb.connection import Connection\n"
        "CONNECTION = Connection(region='us-east-1')  # pynamodb's defaults: 15 s, 30 s, 3 retries\n"
        "import boto3\n"
        "CLIENT = boto3.client('dynamodb')\n"
        'RESOURCE = boto3.resource("dynamodb")\n'
        "RAW = session.create_client('dynamodb')\n"
    )
    assert [line.split(": ")[0].rsplit(":", 1)[1] for line in stray_builders((tmp_path,))] == ["2", "4", "5", "6"]


def test_the_one_client_has_short_timeouts_our_retries_and_none_of_botocores() -> None:
    for client in (one_client.shared_client(), shared_connection().client, one_client.new_client()):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == one_client.timeouts()
        assert config.retries["total_max_attempts"] == 1  # botocore's retries off
        handlers = client.meta.events._emitter._handlers.prefix_search("needs-retry.dynamodb.GetItem")
        assert one_client._retry_delay in handlers  # (botocore's own handler is there too, at one attempt)
    assert shared_connection().client is one_client.shared_client()


def test_one_call_ends_inside_the_functions_time() -> None:
    """One call, every attempt and its backoff included, ends within the retry budget; the shortest function
    that reads DynamoDB (validate) keeps a second after it to answer 503."""
    connect, read = one_client.timeouts()
    budget = settings().dynamodb_retry_budget_s
    assert connect + read <= budget
    resources = yaml.load(TEMPLATE.read_text(), Loader=_Loader)
    default = resources["Globals"]["Function"]["Timeout"]
    validate = resources["Resources"]["ValidateFunction"]["Properties"].get("Timeout", default)
    assert budget <= min(default, validate) - 1


@pytest.mark.parametrize(("elapsed", "expected"), [(0.0, True), (1.4, True), (1.6, False)])
def test_a_retry_starts_only_if_it_can_end_inside_the_budget(
    monkeypatch: pytest.MonkeyPatch, elapsed: float, expected: bool
) -> None:
    monkeypatch.setattr(one_client.random, "uniform", lambda low, high: 0.0)
    monkeypatch.setattr(one_client.time, "monotonic", lambda: 100.0 + elapsed)
    busy = (None, {"Error": {"Code": "ThrottlingException"}})
    context = {"context": {one_client._STARTED: 100.0}}
    connect, read = one_client.timeouts()
    assert settings().dynamodb_retry_budget_s - connect - read == pytest.approx(1.5)  # the defaults
    delay = one_client._retry_delay(attempts=1, request_dict=context, response=busy)
    assert (delay is not None) is expected
    assert one_client._retry_delay(attempts=1, request_dict=context, response=(None, {})) is None  # success
    assert one_client._retry_delay(attempts=one_client.MAX_ATTEMPTS, request_dict=context, response=busy) is None


class _Loader(yaml.SafeLoader):
    """Reads the SAM template's short-form tags (``!Ref``, ``!Sub``…) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
