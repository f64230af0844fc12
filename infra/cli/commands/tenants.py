"""``tollgate tenants``: every tenant with its status and balance, and ``suspend`` / ``resume``."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from infra.cli.output import Session, command, count, integer, record, rows, show

TABLE_ROWS = 50  # a table shows this many tenants unless --limit says otherwise; --json shows all
COLUMNS = (
    ("id", "tenant"),
    ("name", "name"),
    ("status", "status"),
    ("home_region", "region"),
    ("balance", "balance"),
    ("available", "available"),
    ("created_at", "created (UTC)"),
)
ORDER = {
    "created": lambda t: t["created_at"] or "",
    "name": lambda t: t["name"].lower(),
    "balance": lambda t: -t["balance"],
    "id": lambda t: t["id"],
}


@command(
    name="tenants",
    short_help="List tenants with status and balance.",
    epilog="""\b
Examples:
  tollgate --local tenants
  tollgate tenants --status suspended --sort balance
  tollgate tenants --json | jq '.[] | select(.available < 100) | .id'""",
)
@click.option("--status", type=click.Choice(["active", "suspended"]), help="Only tenants with this status.")
@click.option(
    "--sort",
    type=click.Choice(sorted(ORDER)),
    default="created",
    show_default=True,
    help="Order of the rows: created (newest first), name, balance (largest first) or id.",
)
@click.option(
    "--limit",
    type=integer(0),
    metavar="N",
    help=f"Show at most this many (0: all). Default: {TABLE_ROWS} in a table, all with --json.",
)
def tenants(session: Session, status: str | None, sort: str, limit: int | None) -> None:
    """List tenants: id, name, status, home region, balance and available tokens, newest first with
    --sort created. The table ends with a summary of all tenants (how many by status, tokens in total)."""
    services = session.services()
    from tollgate.edge.views import tenant_view

    found = services.tenant_service().list_tenants()
    listed: list[dict[str, Any]] = [
        dict(tenant_view(t), balance=t.pool.balance, available=t.pool.available) for t in found
    ]
    everyone = list(listed)
    if status:
        listed = [t for t in listed if t["status"] == status]
    listed.sort(key=ORDER[sort], reverse=sort == "created")
    shown = limit if limit is not None else (0 if session.options.json else TABLE_ROWS)
    page = listed[:shown] if shown else listed
    session.emit(
        page,
        show(
            rows(
                None,
                COLUMNS,
                page,
                caption=_summary(everyone, len(listed), len(page)),
                numeric=("balance", "available"),
            )
        ),
    )


def _summary(everyone: list[dict[str, Any]], matching: int, shown: int) -> str:
    statuses = Counter(t["status"] for t in everyone)
    by_status = ", ".join(f"{count:,} {name}" for name, count in sorted(statuses.items()))
    total = sum(t["balance"] for t in everyone)
    text = f"{count(len(everyone), 'tenant')} ({by_status or 'none'}); {total:,} tokens in all balances."
    if shown < matching:
        text += f" Showing {shown:,} of {matching:,}: --limit 0 shows all."
    return text


def _set_status(session: Session, tenant: str, suspended: bool) -> None:
    services = session.services()
    from tollgate.core.models import TenantStatus
    from tollgate.edge.views import tenant_view

    status = TenantStatus.SUSPENDED if suspended else TenantStatus.ACTIVE
    changed = tenant_view(services.tenant_service().set_status(tenant, status))
    session.emit(changed, show(record(f"Tenant {tenant} is {changed['status']}", changed)))


TENANT = click.option("--tenant", required=True, metavar="TENANT_ID", help="The tenant, tn_….")


@command(name="suspend", short_help="Suspend a tenant: its keys stop working at once.")
@TENANT
def suspend(session: Session, tenant: str) -> None:
    """Suspend a tenant: every key it has is refused on its next call, and nothing more is spent or held.
    Holds already open still wind down (check-ins, settlements). Undo with `tollgate resume`."""
    _set_status(session, tenant, suspended=True)


@command(name="resume", short_help="Resume a suspended tenant.")
@TENANT
def resume(session: Session, tenant: str) -> None:
    """Resume a suspended tenant: its keys work again on their next call."""
    _set_status(session, tenant, suspended=False)
