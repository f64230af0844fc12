"""``tollgate grant``: tokens granted with a reason, or (negative) an adjustment down that needs ``--yes``."""

from __future__ import annotations

import uuid

import click

from infra.cli.output import Session, command, integer, record, show
from infra.cli.session import EXIT_USAGE
from tollgate.core import limits  # constants only: reads no settings


class Unconfirmed(click.ClickException):
    """A negative grant without ``--yes``: what it would do, and nothing done (exit 2)."""

    exit_code = EXIT_USAGE


@command(
    name="grant",
    short_help="Grant tokens with a reason; negative --tokens adjusts down (needs --yes).",
    epilog="""\b
Examples:
  tollgate --stage prod grant --tenant tn_… --tokens 500 --reason 'support credit'
  tollgate grant --tenant tn_… --tokens 100 --valid-days 30 --reason trial
  tollgate grant --tenant tn_… --tokens -200 --reason 'double credit, ticket 4711' --yes""",
)
@click.option("--tenant", required=True, metavar="TENANT_ID", help="The tenant, tn_….")
@click.option(
    "--tokens",
    required=True,
    type=integer(-limits.MAX_TOKENS, limits.MAX_TOKENS),
    metavar="N",
    help="Tokens to add; negative to take away (an adjustment: only out of what is available, with --yes).",
)
@click.option("--reason", required=True, help="Why; recorded in the ledger entry.")
@click.option(
    "--valid-days",
    type=integer(1, limits.MAX_VALID_DAYS),
    metavar="DAYS",
    help=f"The granted tokens expire after this many days, 1 to {limits.MAX_VALID_DAYS} (positive grants only).",
)
@click.option(
    "--idempotency-key",
    metavar="KEY",
    help="Run the same grant again with this key and it credits nothing more (default: a new UUID, printed).",
)
@click.option("--yes", is_flag=True, help="Confirm an adjustment down (negative --tokens).")
def grant(
    session: Session,
    tenant: str,
    tokens: int,
    reason: str,
    valid_days: int | None,
    idempotency_key: str | None,
    yes: bool,
) -> None:
    """Grant a tenant tokens, written through the pool kernel with a ledger entry of kind `grant` (and a lot
    of its own, which --valid-days makes expire).

    A negative --tokens is an adjustment (ledger kind `adjustment`): it takes tokens back only out of what
    the tenant has available, never below zero and never what running leases, allowances or approved
    actions hold; a larger one is refused (exit 1). Without --yes it only says what it would do (exit 2).
    """
    services = session.services()
    if tokens < 0 and not yes:
        pool = services.tenant_service().tenant(tenant).pool  # NotFound (exit 3) before anything else
        after = pool.available + tokens
        verdict = (
            "run again with --yes to do it"
            if after >= 0
            else "it would be refused: an adjustment takes only what is available"
        )
        raise Unconfirmed(
            f"this would take {-tokens:,} tokens from {tenant} (available {pool.available:,} -> {after:,}, "
            f"balance {pool.balance:,} -> {pool.balance + tokens:,}) as an adjustment: {verdict}"
        )
    from tollgate.edge.views import entry_view

    key = idempotency_key or str(uuid.uuid4())
    entry = services.pool_service().grant(tenant, tokens, reason, session.actor(), valid_days, key)
    view = {k: v for k, v in entry_view(entry).items() if v is not None}
    title = f"Granted {tokens:,} tokens to {tenant}" if tokens > 0 else f"Took {-tokens:,} tokens from {tenant}"
    session.emit(view, show(record(title, view)))
