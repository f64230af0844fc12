"""The operator tool in process, on moto: every command's help reads well, a 301-tenant listing stays a table
of 50 rows under a summary (and every tenant with --json), and the exit codes of usage errors and of an
absent tenant. tests/integration/test_cli.py runs every command as a subprocess against the local stack."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import click
import pytest

from infra.cli.commands import COMMANDS
from infra.cli.main import cli, main
from infra.cli.output import cell
from tests.unit.conftest import FakePayments, raw_items
from tollgate.core.clock import FixedClock
from tollgate.core.ids import RANDOM_IDS
from tollgate.tenancy.service import SignupRequest, TenantService

NOW = 1_800_000_000


@pytest.fixture(autouse=True)
def environment_kept() -> Iterator[None]:
    """The tool sets what it aims at (and a quieter log level) in the environment, as a process of its own
    would: put it back, so later tests in this process log as before."""
    kept = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(kept)


def every_command(
    group: click.Group = cli, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))


COMMAND_PATHS = [path for path, _ in every_command()]


def test_every_registered_command_is_reachable_and_named_once() -> None:
    assert {command.name for command in COMMANDS} == set(cli.commands)
    leaves = {" ".join(path) for path, command in every_command() if not isinstance(command, click.Group)}
    assert {
        "tenants",
        "grant",
        "audit",
        "usage check",
        "usage rebuild",
        "decisions verify",
        "catalog set-pack",
    } <= leaves


def test_the_root_help_lists_every_command_with_exit_codes_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    for name in cli.commands:
        assert f"  {name} " in shown, name
    assert "0 done, 1 a check failed" in shown and "2 bad usage, 3 not found" in shown
    assert "anywhere on the line" in shown and "Examples:" in shown


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_every_command_has_a_help_that_reads_well(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"Usage: tollgate {' '.join(path)} ")
    _, command = next(found for found in every_command() if found[0] == path)
    assert command.help and len(command.help.split()) >= 5, "a description, not a word or two"
    assert command.short_help and len(command.short_help) <= 90, "a short help that fits the listing"
    for flag in ("--local", "--json"):  # accepted on every level of the line
        assert flag in shown
    if not isinstance(command, click.Group):
        own = [p for p in command.params if p.name not in {"local", "stage", "table", "json", "help"}]
        assert all(p.help for p in own if isinstance(p, click.Option)), "every option says what it is for"


def test_cells_read_as_people_write() -> None:
    assert [cell(v) for v in (3826, -96173, None, "", True, ["a", "b"], "2026-12-07T08:29:28Z")] == [
        "3,826",
        "-96,173",
        "-",
        "-",
        "yes",
        "a, b",
        "2026-12-07 08:29:28",
    ]


def copies_of_one_tenant(table: str, count: int) -> set[str]:
    """One tenant signed up through the service, then ``count - 1`` copies of its tenant item written as
    one batch (signing up 301 tenants on moto takes minutes; the listing reads only these items)."""
    from tollgate.tenancy.store import DynamoTenantRepository

    tenants = TenantService(DynamoTenantRepository(), FakePayments(), FixedClock(NOW), RANDOM_IDS, lambda: "p")
    first = tenants.sign_up(SignupRequest("Tenant 0", "t0@acme.example", "eu-west-1"), None).tenant.id
    [item] = [i for i in raw_items(table) if i["pk"] == {"S": f"T#{first}"} and i["sk"] == {"S": "TENANT"}]
    made = {first}
    client = boto3.Session().client("dynamodb", region_name=os.environ["AWS_REGION"])
    copies = []
    for n in range(1, count):
        tenant_id = f"tn_{n:016d}"
        made.add(tenant_id)
        copy = dict(item, pk={"S": f"T#{tenant_id}"}, tenant_id={"S": tenant_id}, name={"S": f"Tenant {n}"})
        copy["kind_sk"] = {"S": item["kind_sk"]["S"].replace(first, tenant_id)}
        copies.append({"PutRequest": {"Item": copy}})
    client = boto3.Session().client("dynamodb", region_name=os.environ["AWS_REGION"])
    for start in range(0, len(copies), 25):
        client.batch_write_item(RequestItems={table: copies[start : start + 25]})
    return made


def test_301_tenants_are_a_table_of_50_rows_under_a_summary(
    table: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = copies_of_one_tenant(table, 301)
    monkeypatch.setenv("COLUMNS", "80")  # as pytest-xdist's workers claim: piped, the table stays wide
    assert main(["tenants"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == 50 and all(line.count("│") == 8 for line in rows)  # seven columns, one line each
    assert all(re.search(r"│ tn_\w{16} │ Tenant \d+ ", line) for line in rows)  # ids and names whole
    summary = " ".join(" ".join(lines[-3:]).split())
    assert "301 tenants (301 active); 0 tokens in all balances." in summary
    assert "Showing 50 of 301: --limit 0 shows all." in summary
    assert len(lines) < 60  # before: 3,012 lines of JSON
    assert main(["tenants", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {t["id"] for t in listed} == made
    assert main(["--limit", "0", "tenants"]) == 2  # --limit is the listing's own option, not a global one
    assert main(["tenants", "--limit", "0", "--status", "suspended"]) == 0
    assert "0 tenants" not in capsys.readouterr().out


def test_an_absent_tenant_is_exit_3_with_one_line(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["usage", "check", "--tenant", "tn_0000000000000000"], ["audit", "--tenant", "tn_0000000000000000"]):
        assert main(args) == 3
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == "tollgate: NOT_FOUND: no tenant tn_0000000000000000\n"


def test_no_stack_named_is_bad_usage(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TABLE_NAME")
    assert main(["tenants"]) == 2
    assert "say which stack: --local, --stage dev|prod, --table NAME or TABLE_NAME" in capsys.readouterr().err
    assert main(["--local", "tenants", "--stage", "dev"]) == 2
    assert "--local and --stage" in capsys.readouterr().err


def test_the_cli_libraries_stay_out_of_the_lambda_layer() -> None:
    """click and rich are the operator tool's: no module a function loads imports them, and the layer's
    requirements do not list them."""
    root = Path(__file__).resolve().parents[2]
    importing = re.compile(r"^\s*(?:from|import)\s+(?:click|rich)\b", re.MULTILINE)
    layer = [*root.joinpath("shared").rglob("*.py"), *root.joinpath("functions").rglob("*.py")]
    assert len(layer) > 50
    assert [str(path) for path in layer if importing.search(path.read_text(encoding="utf-8"))] == []
    requirements = root.joinpath("shared", "requirements.txt").read_text(encoding="utf-8")
    assert not re.search(r"^(click|rich)\b", requirements, re.MULTILINE)
    assert importing.search(root.joinpath("infra", "cli", "session.py").read_text(encoding="utf-8"))  # it finds them
