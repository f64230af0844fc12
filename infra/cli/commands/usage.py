"""``tollgate usage rebuild`` and ``tollgate usage check``: the usage rollups against the ledger."""

from __future__ import annotations

from dataclasses import asdict

import click

from infra.cli.output import Session, command, count, group, record, rows, say, show
from infra.cli.session import CheckFailed

TENANT = click.option("--tenant", required=True, metavar="TENANT_ID", help="The tenant, tn_….")


@group(name="usage", short_help="Usage rollups: rebuild them from the ledger, or check them against it.")
def usage() -> None:
    """Usage rollups (what `GET /v1/usage` reports), kept by the usage aggregator from the table's stream:
    rebuild them from the ledger, or check them against it."""


@command(
    name="rebuild",
    short_help="Count the tenant's ledger afresh into new rollups.",
    epilog="""\b
Example:
  tollgate --local usage rebuild --tenant tn_…""",
)
@TENANT
def rebuild(session: Session, tenant: str) -> None:
    """Count the tenant's ledger afresh into a new generation of rollups, then switch to it: exact, and safe
    while the aggregator runs. Shows a spinner on a terminal."""
    services = session.services()
    services.tenant_service().tenant(tenant)  # NotFound (exit 3) for an absent tenant
    with session.progress(f"rebuilding the usage of {tenant}", None):
        rebuilt = asdict(services.usage_repository().rebuild(tenant))
    session.emit(rebuilt, show(record(f"Rebuilt the usage rollups of {tenant}", rebuilt, skip_empty=False)))


@command(
    name="check",
    short_help="Compare the tenant's rollups with its ledger; exit 1 on any difference.",
    epilog="""\b
Example:
  tollgate --local usage check --tenant tn_… --json""",
)
@TENANT
def check(session: Session, tenant: str) -> None:
    """Compare the tenant's rollups with its ledger, day by day and line by line; prints each difference
    and exits 1 on any (`usage rebuild` then makes them equal)."""
    services = session.services()
    from tollgate.reports.rules import rollups_of

    services.tenant_service().tenant(tenant)  # NotFound (exit 3) for an absent tenant
    repository = services.usage_repository()
    with session.progress(f"checking the usage of {tenant}", None):
        truth = {line.identity: line for line in rollups_of(repository.ledger(tenant))}
        kept = {line.identity: line for line in repository.all_lines(tenant)}
    differences = [
        f"{'/'.join(str(part) for part in identity)}: ledger {truth.get(identity)}, rollups {kept.get(identity)}"
        for identity in sorted(set(truth) | set(kept), key=str)
        if truth.get(identity) != kept.get(identity)
    ]
    report = {"tenant_id": tenant, "rollups": len(kept), "mismatches": differences}
    if not differences:
        session.emit(report, say(f"{count(len(kept), 'rollup')} of {tenant}: all equal its ledger.", "green"))
        return
    found = [{"difference": text} for text in differences]
    title = f"{count(len(differences), 'difference')} between the rollups of {tenant} and its ledger"
    session.emit(report, show(rows(title, (("difference", "rollup: ledger vs rollups"),), found)))
    raise CheckFailed()


usage.add_command(rebuild)
usage.add_command(check)
