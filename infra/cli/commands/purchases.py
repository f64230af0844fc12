"""``tollgate reconcile`` and ``tollgate purchases review|resolve``: purchases an operator looks after."""

from __future__ import annotations

from typing import Any

import click

from infra.cli.output import Session, command, count, group, integer, record, rows, say, show

REVIEW_COLUMNS = (
    ("id", "purchase"),
    ("tenant_id", "tenant"),
    ("pack_id", "pack"),
    ("tokens", "tokens"),
    ("amount", "amount"),
    ("paid_amount", "paid"),
    ("currency", "currency"),
    ("paid_currency", "paid in"),
    ("created_at", "created (UTC)"),
)


@command(
    name="reconcile",
    short_help="Fulfil paid Checkout Sessions whose webhook was lost (safe any time, twice).",
    epilog="""\b
Example:
  tollgate --stage prod reconcile --since-hours 24""",
)
@click.option(
    "--since-hours",
    type=integer(1, 24 * 90),
    metavar="HOURS",
    default=72,
    show_default=True,
    help="Look at Checkout Sessions created this far back (1 to 2160).",
)
def reconcile(session: Session, since_hours: int) -> None:
    """Ask Stripe for the Checkout Sessions of the last --since-hours and fulfil every paid one whose
    purchase is not credited (a webhook that never arrived). Safe to run at any time, twice, or while
    webhooks arrive; the scheduled reconcile function does the same. Shows a spinner on a terminal."""
    services = session.services()
    with session.progress("reconciling Checkout Sessions with Stripe", None):
        report = services.purchase_service().reconcile(since_hours * 3600, actor=session.actor()).body()
    session.emit(report, show(record(f"Reconciled the last {since_hours} hours", report, skip_empty=False)))


@group(name="purchases", short_help="Purchases held for review (paid, but not what they cost).")
def purchases() -> None:
    """Purchases held for review: a paid Checkout Session whose amount or currency differs from its
    purchase is not credited but waits for an operator's decision."""


@command(name="review", short_help="List the purchases waiting for an operator's decision.")
def review(session: Session) -> None:
    """List the purchases waiting for an operator's decision (status needs_review): what was asked and
    what was paid."""
    services = session.services()
    from tollgate.edge.views_purchases import purchase_view

    held = [dict(purchase_view(p), tenant_id=p.tenant_id) for p in services.purchase_service().under_review()]
    if not held:
        session.emit(held, say("No purchase waits for a decision."))
        return
    caption = f"{count(len(held), 'purchase')} to decide: tollgate purchases resolve --purchase ID --credit|--reject"
    table = rows(None, REVIEW_COLUMNS, held, caption=caption, numeric=("tokens", "amount", "paid_amount"))
    session.emit(held, show(table))


@command(
    name="resolve",
    short_help="Credit or reject a purchase held for review (the same decision again is a no-op).",
    epilog="""\b
Examples:
  tollgate purchases resolve --purchase pu_… --credit --reason 'paid the rest by wire'
  tollgate purchases resolve --purchase pu_… --reject --reason 'refunded in Stripe'""",
)
@click.option("--purchase", required=True, metavar="PURCHASE_ID", help="The purchase, pu_….")
@click.option("--credit", is_flag=True, help="Credit the purchase's tokens as sold.")
@click.option("--reject", is_flag=True, help="Credit nothing (refund the buyer in Stripe).")
@click.option("--reason", required=True, help="Why; recorded on the purchase and in the ledger.")
def resolve(session: Session, purchase: str, credit: bool, reject: bool, reason: str) -> None:
    """Credit or reject a purchase held for review. Idempotent: the same decision again changes nothing;
    the other decision after one is a conflict (exit 1)."""
    if credit == reject:
        raise click.UsageError("say one of --credit and --reject")
    service = session.services().purchase_service()
    from tollgate.edge.views_purchases import purchase_view

    resolved = service.resolve(purchase, credit=credit, reason=reason, actor=session.actor())
    view: dict[str, Any] = dict(purchase_view(resolved), tenant_id=resolved.tenant_id)
    session.emit(view, show(record(f"Purchase {purchase} is {view['status']}", view)))


purchases.add_command(review)
purchases.add_command(resolve)
