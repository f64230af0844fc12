"""The checks: ``tollgate audit`` (every pool invariant) and ``tollgate decisions verify`` (the decision
chains). Each exits 1 when it finds something, after printing what it found."""

from __future__ import annotations

from typing import Any

import click

from infra.cli.output import Session, command, count, group, rows, say, show
from infra.cli.session import CheckFailed


def _tenants(session: Session, tenant: str | None) -> list[str]:
    """The one tenant asked for (``NotFound``, exit 3, if absent), or every tenant."""
    services = session.services()
    if tenant:
        services.tenant_service().tenant(tenant)
        return [tenant]
    from infra.audit.books import DynamoBooks

    return DynamoBooks().tenant_ids()


@command(
    name="audit",
    short_help="Check every pool invariant; exit 1 on any mismatch.",
    epilog="""\b
Examples:
  tollgate --local audit
  tollgate audit --tenant tn_… --json""",
)
@click.option("--tenant", metavar="TENANT_ID", help="One tenant, tn_… (default: every tenant).")
def audit(session: Session, tenant: str | None) -> None:
    """Check every pool invariant against the records as stored: the ledger sums to the balance,
    available = balance − reserved, holds sum to reserved, budgets, lots. Prints each mismatch and exits 1
    on any; shows progress on a terminal."""
    tenants = _tenants(session, tenant)  # the stack configured before the data layer is imported
    from infra.audit.books import DynamoBooks
    from infra.audit.rules import audit_tenant

    books = DynamoBooks()
    mismatches: list[str] = []
    with session.progress("auditing tenants", len(tenants)) as advance:
        for one in tenants:
            mismatches += audit_tenant(books.books(one))
            advance()
    report = {"tenants": len(tenants), "mismatches": mismatches}
    if not mismatches:
        session.emit(report, say(f"Audited {count(len(tenants), 'tenant')}: no mismatch.", "green"))
        return
    found = [dict(zip(("tenant", "mismatch"), text.split(": ", 1), strict=False)) for text in mismatches]
    title = f"{count(len(mismatches), 'mismatch')} in {count(len(tenants), 'tenant')} audited"
    session.emit(report, show(rows(title, (("tenant", "tenant"), ("mismatch", "mismatch")), found)))
    raise CheckFailed()


@group(name="decisions", short_help="The hash-chained decision log.")
def decisions() -> None:
    """The hash-chained decision log (approvals): verify its chains."""


@command(
    name="verify",
    short_help="Recompute the decision chains; exit 1 naming the seq where one breaks.",
    epilog="""\b
Examples:
  tollgate --local decisions verify
  tollgate decisions verify --tenant tn_… --json""",
)
@click.option("--tenant", metavar="TENANT_ID", help="One tenant, tn_… (default: every tenant).")
def verify(session: Session, tenant: str | None) -> None:
    """Recompute every tenant's decision chain (or one's) and check the head the log keeps. Names the
    tenant and seq where a chain breaks and exits 1; shows progress on a terminal."""
    tenants = _tenants(session, tenant)  # the stack configured before the data layer is imported
    from tollgate.approvals.rules_decisions import verify_chain
    from tollgate.approvals.store_decisions import all_records, read_head

    broken: list[dict[str, Any]] = []
    records = 0
    with session.progress("verifying decision chains", len(tenants)) as advance:
        for one in tenants:
            chain = list(all_records(one))
            records += len(chain)
            seq = verify_chain(chain, read_head(one))
            if seq is not None:
                broken.append({"tenant_id": one, "seq": seq})
                click.echo(f"tollgate: tenant {one}: the decision chain breaks at seq {seq}", err=True)
            advance()
    report = {"tenants": len(tenants), "records": records, "broken": broken}
    if not broken:
        text = f"{count(records, 'decision record')} in {count(len(tenants), 'tenant')}: every chain verifies."
        session.emit(report, say(text, "green"))
        return
    title = f"{count(len(broken), 'broken chain')} ({count(records, 'record')} in {count(len(tenants), 'tenant')})"
    session.emit(report, show(rows(title, (("tenant_id", "tenant"), ("seq", "breaks at seq")), broken)))
    raise CheckFailed()


decisions.add_command(verify)
