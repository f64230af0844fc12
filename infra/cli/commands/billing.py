"""``tollgate overdraft set``, ``tollgate refills set`` and ``tollgate refills show`` (SPEC.md, "Budgets,
top-ups and refills"): how far below zero a tenant may consume, and recurring grants with rollover."""

from __future__ import annotations

from typing import Any

import click

from infra.cli.output import Session, command, group, integer, record, rows, show
from tollgate.core import limits  # constants only: reads no settings

TENANT = click.option("--tenant", required=True, metavar="TENANT_ID", help="The tenant, tn_….")
TOKENS = integer(0, limits.MAX_TOKENS)


@group(name="overdraft", short_help="How far below zero a tenant's consumption may take `available`.")
def overdraft() -> None:
    """A tenant's overdraft: consumption may take `available` down to −overdraft, never further; the next
    purchase or refill pays it back first."""


@command(
    name="set",
    short_help="Allow consumption down to −N available (0: none).",
    epilog="""\b
Example:
  tollgate --local overdraft set --tenant tn_… --tokens 500""",
)
@TENANT
@click.option("--tokens", required=True, type=TOKENS, metavar="N", help="The overdraft, in tokens (0: none).")
def set_overdraft(session: Session, tenant: str, tokens: int) -> None:
    """Set the tenant's overdraft, written through the pool kernel (the tenant must exist: exit 3)."""
    pool = session.services().pool_service().set_overdraft(tenant, tokens)
    view = {"tenant_id": tenant, "overdraft": pool.overdraft, "available": pool.available}
    session.emit(view, show(record(f"Overdraft of {tenant}", view, skip_empty=False)))


overdraft.add_command(set_overdraft)


@group(name="refills", short_help="Recurring grants each month, with rollover of the unused part.")
def refills() -> None:
    """Refill plans: a lot at each UTC calendar month start (the first when the plan is set), and a rollover
    lot carrying a percentage of the previous refill lot's unused part, up to a cap."""


@command(
    name="set",
    short_help="Set a tenant's refill plan (the first lot arrives now).",
    epilog="""\b
Example:
  tollgate --local refills set --tenant tn_… --tokens 1000 --every month --rollover-percent 50 --rollover-cap 300""",
)
@TENANT
@click.option("--tokens", required=True, type=TOKENS, metavar="N", help="Tokens per period.")
@click.option("--every", type=click.Choice(["month"]), default="month", show_default=True, help="The period (UTC).")
@click.option(
    "--rollover-percent", type=integer(0, 100), default=0, metavar="P", help="Of the previous lot's unused part."
)
@click.option("--rollover-cap", type=TOKENS, default=0, metavar="C", help="At most this many tokens roll over.")
def set_plan(session: Session, tenant: str, tokens: int, every: str, rollover_percent: int, rollover_cap: int) -> None:
    """Set the tenant's refill plan; setting the same plan again in a period gives nothing more."""
    services = session.services()
    plan = services.refill_service().set_plan(
        tenant, tokens, every, rollover_percent, rollover_cap, session.actor(), services.lot_settler()
    )
    view = _plan_view(plan)
    session.emit(view, show(record(f"Refill plan of {tenant}", view, skip_empty=False)))


@command(
    name="show",
    short_help="Show refill plans (one tenant's, or every plan).",
    epilog="""\b
Example:
  tollgate --local refills show --tenant tn_… --json""",
)
@click.option("--tenant", metavar="TENANT_ID", help="One tenant, tn_… (default: every plan).")
def show_plans(session: Session, tenant: str | None) -> None:
    """The refill plans and the last period each gave."""
    plans = [_plan_view(plan) for plan in session.services().refill_service().show(tenant)]
    columns = [
        ("tenant_id", "tenant"),
        ("tokens", "tokens"),
        ("every", "every"),
        ("rollover_percent", "rollover %"),
        ("rollover_cap", "rollover cap"),
        ("last_period", "last period"),
    ]
    table = rows("Refill plans", columns, plans, numeric=("tokens", "rollover_percent", "rollover_cap"))
    session.emit(plans, show(table))


refills.add_command(set_plan)
refills.add_command(show_plans)


def _plan_view(plan: Any) -> dict[str, Any]:
    from tollgate.edge.views import iso

    return {
        "tenant_id": plan.tenant_id,
        "tokens": plan.tokens,
        "every": plan.every,
        "rollover_percent": plan.rollover_percent,
        "rollover_cap": plan.rollover_cap,
        "last_period": iso(plan.last_period),
        "last_lot_id": plan.last_lot_id,
        "updated_by": plan.updated_by,
    }
