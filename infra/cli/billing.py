"""Operator commands of the billing features (SPEC.md, "Budgets, top-ups and refills"): ``overdraft set``,
``refills set`` and ``refills show``. Kept apart from ``main`` so the commands register in a few lines
(``register`` adds the parsers, ``run`` answers them)."""

from __future__ import annotations

import argparse
from typing import Any

from tollgate.core import limits

COMMANDS = frozenset({"overdraft", "refills"})


def _tokens(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > limits.MAX_TOKENS:
        raise argparse.ArgumentTypeError(f"an integer from 0 to {limits.MAX_TOKENS}")
    return int(text)


def register(commands: Any) -> None:
    overdraft = commands.add_parser("overdraft", help="how far below zero a tenant's consumption may go")
    overdraft_commands = overdraft.add_subparsers(dest="overdraft_command", required=True, metavar="ACTION")
    set_overdraft = overdraft_commands.add_parser("set", help="allow consumption down to −TOKENS available")
    set_overdraft.add_argument("--tenant", required=True, help="tenant id, tn_…")
    set_overdraft.add_argument("--tokens", required=True, type=_tokens, help="the overdraft (0: none)")

    refills = commands.add_parser("refills", help="recurring grants per month, with rollover of the unused part")
    refill_commands = refills.add_subparsers(dest="refills_command", required=True, metavar="ACTION")
    set_plan = refill_commands.add_parser("set", help="set a tenant's refill plan (the first lot arrives now)")
    set_plan.add_argument("--tenant", required=True, help="tenant id, tn_…")
    set_plan.add_argument("--tokens", required=True, type=_tokens, help="tokens per period")
    set_plan.add_argument("--every", choices=["month"], default="month", help="the period (UTC calendar month)")
    set_plan.add_argument("--rollover-percent", type=_tokens, default=0, help="of the previous lot's unused part")
    set_plan.add_argument("--rollover-cap", type=_tokens, default=0, help="at most this many tokens roll over")
    show = refill_commands.add_parser("show", help="show refill plans")
    show.add_argument("--tenant", help="one tenant, tn_… (default: every plan)")


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


def run(args: argparse.Namespace, actor: str = "operator") -> Any:
    from tollgate import services

    if args.command == "overdraft":
        pool = services.pool_service().set_overdraft(args.tenant, args.tokens)
        return {"tenant_id": args.tenant, "overdraft": pool.overdraft, "available": pool.available}
    refills = services.refill_service()
    if args.refills_command == "set":
        plan = refills.set_plan(
            args.tenant,
            args.tokens,
            args.every,
            args.rollover_percent,
            args.rollover_cap,
            actor,
            services.lot_settler(),
        )
        return _plan_view(plan)
    return [_plan_view(plan) for plan in refills.show(args.tenant)]
