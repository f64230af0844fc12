"""The operator tool as an operator runs it: ``tollgate`` as a subprocess against the local stack. Every
command in both output modes (a table, and one JSON document with ``--json``), SPEC's exit codes (0 done,
1 a check failed, 2 bad usage, 3 not found), global flags anywhere on the line, the negative grant that
needs ``--yes`` and never takes a pool below zero, progress only on a terminal, and a long listing that
stays a table."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def tollgate(stack: Stack, *args: str, stderr: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``tollgate ARGS`` with nothing added: the test says where ``--local`` goes."""
    return subprocess.run(
        [sys.executable, "-m", "infra.cli.main", *args],
        cwd=ROOT,
        env=dict(os.environ, **stack.env, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr,
        text=True,
        timeout=60,
        check=False,
    )


def balance(stack: Stack, owner: str) -> int:
    answer = stack.call("GET", "/v1/balance", key=owner)
    assert answer.status == 200, answer.body
    return int(answer.body["balance"])


def both_modes(stack: Stack, *args: str, code: int = 0) -> Any:
    """Runs ``args`` as a table and with ``--json``; both exit ``code``; the table is not JSON and the JSON
    is one document. Returns the JSON document."""
    table = tollgate(stack, "--local", *args)
    assert table.returncode == code, (args, table.stdout, table.stderr)
    assert table.stdout.strip(), args
    with pytest.raises(ValueError):
        json.loads(table.stdout)
    scripted = tollgate(stack, "--local", "--json", *args)
    assert scripted.returncode == code, (args, scripted.stdout, scripted.stderr)
    assert "Traceback" not in table.stderr + scripted.stderr
    return json.loads(scripted.stdout)  # one document: json.loads refuses trailing data


def test_every_command_prints_a_table_and_one_json_document(stack: Stack, tmp_path: Path) -> None:
    tenant_id, owner = stack.signup("Both modes")
    suffix = uuid.uuid4().hex[:6]

    first = both_modes(stack, "grant", "--tenant", tenant_id, "--tokens", "40", "--reason", "welcome")
    assert (first["kind"], first["amount"]) == ("grant", 40)
    assert balance(stack, owner) == 80  # two grants, one per mode (each its own idempotency key)

    listed = both_modes(stack, "tenants", "--limit", "0")
    assert tenant_id in [t["id"] for t in listed]
    assert both_modes(stack, "suspend", "--tenant", tenant_id)["status"] == "suspended"
    assert both_modes(stack, "resume", "--tenant", tenant_id)["status"] == "active"

    assert both_modes(stack, "audit", "--tenant", tenant_id) == {"tenants": 1, "mismatches": []}
    assert both_modes(stack, "audit")["mismatches"] == []
    verified = both_modes(stack, "decisions", "verify", "--tenant", tenant_id)
    assert verified == {"tenants": 1, "records": 0, "broken": []}
    assert both_modes(stack, "decisions", "verify")["broken"] == []

    stack.settle()  # the aggregator has counted the grants' ledger entries
    assert both_modes(stack, "usage", "check", "--tenant", tenant_id)["mismatches"] == []
    assert both_modes(stack, "usage", "rebuild", "--tenant", tenant_id)["tenant_id"] == tenant_id

    assert set(both_modes(stack, "reconcile", "--since-hours", "1")) >= {"checked", "credited"}
    assert isinstance(both_modes(stack, "purchases", "review"), list)
    missing = ("purchases", "resolve", "--purchase", "pu_0000000000000000", "--credit", "--reason", "x")
    both_unknown(stack, *missing)

    catalog = both_modes(stack, "catalog", "list")
    assert {"packs", "features"} <= set(catalog)
    feature = f"cli{suffix}"
    changed = both_modes(stack, "catalog", "set-feature", feature, "--cost-per-use", "2", "--cost-per-hour", "9")
    assert {"id": feature, "name": "", "cost_per_use": 2, "cost_per_hour": 9} in changed["features"]
    pack = f"clipack{suffix}"
    changed = both_modes(stack, "catalog", "set-pack", pack, "--tokens", "500", "--price", "700")
    assert pack in [p["id"] for p in changed["packs"]]
    file = tmp_path / "catalog.json"
    file.write_text(json.dumps({"features": [{"id": f"{feature}x", "cost_per_use": 1, "cost_per_hour": 1}]}))
    loaded = both_modes(stack, "catalog", "load", str(file))
    assert f"{feature}x" in [f["id"] for f in loaded["features"]]
    stack.audit(tenant_id)


def both_unknown(stack: Stack, *args: str) -> None:
    """``args`` name something absent: exit 3 and one clear line on stderr, in both modes."""
    for mode in ((), ("--json",)):
        done = tollgate(stack, "--local", *mode, *args)
        assert done.returncode == 3, (args, done.stdout, done.stderr)
        assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "NOT_FOUND" in done.stderr and "Traceback" not in done.stderr


def test_an_unknown_tenant_or_id_exits_3_with_one_line(stack: Stack) -> None:
    absent = "tn_0000000000000000"
    for args in (
        ("usage", "check", "--tenant", absent),  # before: exit 0
        ("usage", "rebuild", "--tenant", absent),
        ("audit", "--tenant", absent),
        ("decisions", "verify", "--tenant", absent),
        ("grant", "--tenant", absent, "--tokens", "5", "--reason", "x"),
        ("grant", "--tenant", absent, "--tokens", "-5", "--reason", "x"),
        ("suspend", "--tenant", absent),
        ("resume", "--tenant", absent),
    ):
        both_unknown(stack, *args)


def test_a_failed_check_exits_1_and_prints_what_it_found(stack: Stack) -> None:
    tenant_id, _ = stack.signup("Tampered")
    stack.grant(tenant_id, 100)
    key = {"pk": {"S": f"T#{tenant_id}"}, "sk": {"S": "TENANT"}}
    item = stack.client().get_item(TableName=stack.table_name, Key=key, ConsistentRead=True)["Item"]
    assert item["balance"] == {"N": "100"}  # the key is the tenant's pool item

    def set_balance(value: int) -> None:
        stack.client().update_item(
            TableName=stack.table_name,
            Key=key,
            UpdateExpression="SET balance = :b, available = :b",
            ExpressionAttributeValues={":b": {"N": str(value)}},
        )

    set_balance(150)  # an insider's edit: the ledger no longer explains the balance
    try:
        table = tollgate(stack, "audit", "--tenant", tenant_id, "--local")
        assert table.returncode == 1, table.stdout + table.stderr
        assert "the ledger sums to 100 but the balance is 150" in " ".join(table.stdout.split())
        scripted = tollgate(stack, "audit", "--tenant", tenant_id, "--local", "--json")
        assert scripted.returncode == 1
        [found] = json.loads(scripted.stdout)["mismatches"]
        assert found.startswith(f"{tenant_id}: the ledger sums to 100 but the balance is 150")
    finally:
        set_balance(100)
    stack.audit(tenant_id)


def test_bad_usage_exits_2_and_changes_nothing(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Bad usage")
    stack.grant(tenant_id, 10)
    for args, says in (
        (("grant", "--tenant", tenant_id, "--tokens", "5"), "--reason"),
        (("grant", "--tenant", tenant_id, "--tokens", "five", "--reason", "x"), "--tokens"),
        (("grant", "--tenant", tenant_id, "--tokens", "5", "--reason", "x", "--valid-days", "3651"), "--valid-days"),
        (("no-such-command",), "No such command"),
        (("usage", "check"), "--tenant"),
        (("purchases", "resolve", "--purchase", "pu_x", "--reason", "x"), "--credit"),
        (("reconcile", "--since-hours", "0"), "--since-hours"),
        (("--stage", "dev", "tenants"), "--local and --stage"),
    ):
        for mode in ((), ("--json",)):
            done = tollgate(stack, "--local", *mode, *args)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert balance(stack, owner) == 10


def test_flags_are_accepted_anywhere_on_the_line(stack: Stack) -> None:
    tenant_id, _ = stack.signup("Flags")
    stack.grant(tenant_id, 7)
    for args in (
        ("--local", "--json", "audit", "--tenant", tenant_id),
        ("audit", "--tenant", tenant_id, "--local", "--json"),
        ("--json", "audit", "--local", "--tenant", tenant_id),
        ("audit", "--json", "--tenant", tenant_id, "--local"),
    ):
        done = tollgate(stack, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout) == {"tenants": 1, "mismatches": []}, args
    for args in (
        ("usage", "--local", "check", "--tenant", tenant_id, "--json"),
        ("usage", "--json", "check", "--local", "--tenant", tenant_id),
    ):
        done = tollgate(stack, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout)["tenant_id"] == tenant_id
    table = tollgate(stack, "tenants", "--local")
    assert table.returncode == 0 and tenant_id in table.stdout
    assert tollgate(stack, "tenants", TABLE_NAME="").returncode == 2  # no stack named anywhere


def test_a_negative_grant_is_an_adjustment_that_needs_a_reason_and_yes(stack: Stack) -> None:
    tenant_id, owner = stack.signup("Adjusted")
    stack.grant(tenant_id, 3826)
    base = ("--local", "grant", "--tenant", tenant_id, "--reason", "double credit, ticket 4711")

    unconfirmed = tollgate(stack, *base, "--tokens", "-26")
    assert unconfirmed.returncode == 2, unconfirmed.stderr
    said = " ".join(unconfirmed.stderr.split())
    assert "would take 26 tokens" in said and "3,826 -> 3,800" in said and "--yes" in said
    no_reason = tollgate(stack, "--local", "grant", "--tenant", tenant_id, "--tokens", "-26", "--yes")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    assert balance(stack, owner) == 3826

    too_much = tollgate(stack, *base, "--tokens", "-99999")
    assert too_much.returncode == 2 and "refused" in too_much.stderr
    forced = tollgate(stack, *base, "--tokens", "-99999", "--yes")
    assert forced.returncode == 1, forced.stdout + forced.stderr
    assert "INSUFFICIENT_TOKENS" in forced.stderr and "3,826 available" in forced.stderr
    assert balance(stack, owner) == 3826  # before: -96,173, silently

    done = tollgate(stack, *base, "--tokens", "-26", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)
    assert (entry["kind"], entry["amount"], entry["reason"]) == ("adjustment", -26, "double credit, ticket 4711")
    assert balance(stack, owner) == 3800
    stack.audit(tenant_id)


def test_progress_shows_on_a_terminal_only(stack: Stack) -> None:
    tenant_id, _ = stack.signup("Progress")
    piped = tollgate(stack, "--local", "audit")
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr  # nothing extra when piped
    done, drawn = on_a_terminal(stack, "--local", "audit")
    assert done.returncode == 0 and "auditing tenants" in drawn, drawn
    done, drawn = on_a_terminal(stack, "--local", "usage", "rebuild", "--tenant", tenant_id)
    assert done.returncode == 0 and "rebuilding the usage" in drawn, drawn
    done, drawn = on_a_terminal(stack, "--local", "--json", "audit")
    assert done.returncode == 0 and drawn == "", drawn  # --json: nothing extra, even on a terminal
    assert json.loads(done.stdout)["mismatches"] == []


def on_a_terminal(stack: Stack, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Runs ``tollgate`` with its stderr on a pseudo-terminal; (the run, what it drew there)."""
    main, follower = pty.openpty()
    try:
        done = tollgate(stack, *args, stderr=follower, TERM="xterm")
    finally:
        os.close(follower)
    try:
        return done, _read_all(main)
    finally:
        os.close(main)


def _read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal's other end is closed and all was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_a_long_tenant_listing_stays_a_readable_table(stack: Stack) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = set(pool.map(lambda n: stack.signup(f"Many {n}")[0], range(60)))
    table = tollgate(stack, "--local", "tenants")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    body = [line for line in lines if line.startswith("│")]
    assert len(body) == 50  # one line per tenant, the first 50
    assert all(line.count("│") == 8 for line in body)  # seven columns
    summary = " ".join(" ".join(lines[-2:]).split())
    assert "tenants (" in summary and "Showing 50 of" in summary and "--limit 0" in summary
    everyone = json.loads(tollgate(stack, "--local", "--json", "tenants").stdout)
    assert made <= {t["id"] for t in everyone} and len(everyone) > 50
    assert {"id", "name", "status", "balance", "available", "created_at"} <= set(everyone[0])
