"""``tollgate``: the vendor's operator tool. It talks to the table with the operator's own AWS credentials
(IAM), never through a public route. ``tollgate --local …`` aims it at the local stack."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from infra.cli import billing  # parsers only: reads no settings
from tollgate.core import limits  # constants only: reads no settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _bounded(low: int, high: int) -> Any:
    """An argparse type: an integer from ``low`` to ``high`` (the API's own bounds, ``tollgate.core.limits``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tollgate",
        description="Operate a Tollgate deployment: tenants, tokens, purchases and the catalog.",
        epilog="Examples: tollgate --local tenants | tollgate --stage prod grant --tenant tn_… --tokens 500 "
        "--reason 'support credit'",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="use the local stack (DynamoDB Local on TOLLGATE_DDB_PORT)")
    where.add_argument("--stage", choices=["dev", "prod"], help="use the deployed stack's table tollgate-<stage>")
    parser.add_argument("--table", help="table name (overrides --stage and TABLE_NAME)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("tenants", help="list tenants with status and balance")
    grant = commands.add_parser("grant", help="grant tokens (or, with negative --tokens, adjust down) with a reason")
    grant.add_argument("--tenant", required=True, help="tenant id, tn_…")
    grant.add_argument(
        "--tokens",
        required=True,
        type=_bounded(-limits.MAX_TOKENS, limits.MAX_TOKENS),
        help="tokens to add; negative to take away",
    )
    grant.add_argument("--reason", required=True, help="why; recorded in the ledger")
    grant.add_argument(
        "--valid-days", type=_bounded(1, limits.MAX_VALID_DAYS), help="the granted tokens expire after this many days"
    )
    grant.add_argument(
        "--idempotency-key",
        help="run the same grant again with this key and it credits nothing more (default: a new UUID, printed)",
    )
    audit = commands.add_parser(
        "audit", help="check every pool invariant (ledger = balance, holds = reserved, budgets, lots); exit 1 on any"
    )
    audit.add_argument("--tenant", help="one tenant, tn_… (default: every tenant)")
    for name, text in (("suspend", "suspend a tenant: its keys stop working at once"), ("resume", "resume a tenant")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--tenant", required=True, help="tenant id, tn_…")

    reconcile = commands.add_parser(
        "reconcile",
        help="fulfil paid Stripe Checkout Sessions whose webhook was lost (safe to run any time, twice)",
    )
    reconcile.add_argument(
        "--since-hours", type=int, default=72, help="look at sessions created this far back (default 72)"
    )
    purchases = commands.add_parser("purchases", help="purchases held for review (paid, but not what they cost)")
    purchase_commands = purchases.add_subparsers(dest="purchases_command", required=True, metavar="ACTION")
    purchase_commands.add_parser("review", help="list the purchases waiting for an operator's decision")
    resolve = purchase_commands.add_parser(
        "resolve", help="credit or reject a purchase held for review (idempotent: the same decision again is a no-op)"
    )
    resolve.add_argument("--purchase", required=True, help="purchase id, pu_…")
    decision = resolve.add_mutually_exclusive_group(required=True)
    decision.add_argument("--credit", action="store_true", help="credit the purchase's tokens as sold")
    decision.add_argument("--reject", action="store_true", help="credit nothing (refund the buyer in Stripe)")
    resolve.add_argument("--reason", required=True, help="why; recorded on the purchase and in the ledger")
    usage = commands.add_parser("usage", help="usage rollups: rebuild them from the ledger, or check them against it")
    usage_commands = usage.add_subparsers(dest="usage_command", required=True, metavar="ACTION")
    for name, text in (
        ("rebuild", "count the tenant's ledger afresh into new rollups (exact, safe while the aggregator runs)"),
        ("check", "compare the tenant's rollups with its ledger, day by day; exit 1 on any difference"),
    ):
        command = usage_commands.add_parser(name, help=text)
        command.add_argument("--tenant", required=True, help="tenant id, tn_…")
    decisions = commands.add_parser("decisions", help="the hash-chained decision log")
    decision_commands = decisions.add_subparsers(dest="decisions_command", required=True, metavar="ACTION")
    verify = decision_commands.add_parser(
        "verify", help="recompute every tenant's decision chain (or one's); exit 1 and name the seq where it breaks"
    )
    verify.add_argument("--tenant", help="one tenant, tn_… (default: every tenant)")
    catalog = commands.add_parser("catalog", help="show or change the catalog")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    catalog_commands.add_parser("list", help="show packs and features")
    load = catalog_commands.add_parser("load", help="create or change packs and features from a JSON file")
    load.add_argument("file", help='{"features": [{id, cost_per_use, cost_per_hour, name?}], "packs": [...]}')
    feature = catalog_commands.add_parser("set-feature", help="create or change a feature's cost")
    feature.add_argument("id")
    feature.add_argument("--cost-per-use", type=int, required=True)
    feature.add_argument("--cost-per-hour", type=int, required=True)
    feature.add_argument("--name", default="")
    pack = catalog_commands.add_parser("set-pack", help="create or change a token pack")
    pack.add_argument("id")
    pack.add_argument("--tokens", type=int, required=True)
    pack.add_argument("--price", type=int, required=True, help="in the currency's smallest unit (cents)")
    pack.add_argument("--currency", default="usd")
    pack.add_argument("--valid-days", type=int)
    pack.add_argument(
        "--stripe-price",
        help="a Stripe Price id to sell it with (else price_data is sent); its amount and currency must match",
    )
    pack.add_argument("--name", default="")
    billing.register(commands)
    return parser


def _configure(args: argparse.Namespace) -> None:
    """Before anything imports the data layer: it reads its settings once."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # info logs would mix with the JSON printed
    if args.local:
        os.environ["TOLLGATE_DDB_ENDPOINT"] = f"http://127.0.0.1:{os.environ.get('TOLLGATE_DDB_PORT', '8000')}"
        os.environ["TABLE_NAME"] = "tollgate-local"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_REGION", os.environ.get("TOLLGATE_REGION", "us-east-1"))
        os.environ.setdefault("TOLLGATE_OPERATOR", "local-operator")
        os.environ.setdefault("TOLLGATE_DDB_READ_TIMEOUT_S", "6")  # as the local stack's functions
        os.environ.setdefault("TOLLGATE_DDB_RETRY_BUDGET_S", "8")
        os.environ.setdefault("STRIPE_API_KEY", "sk_test_tollgate_local")
        os.environ.setdefault("STRIPE_API_BASE", f"http://127.0.0.1:{os.environ.get('TOLLGATE_STRIPE_PORT', '12111')}")
        _follow_local_clock()
    elif args.stage:
        os.environ["TABLE_NAME"] = f"tollgate-{args.stage}"
    if args.table:
        os.environ["TABLE_NAME"] = args.table
    if not os.environ.get("TABLE_NAME"):
        raise SystemExit("tollgate: say which stack: --local, --stage dev|prod, --table NAME or TABLE_NAME")


def _follow_local_clock() -> None:
    """The local stack's application clock may have been moved (``POST /_local/clock``): the operator tool
    reads the same clock, so a grant made after the move is dated by it. No stack running: the wall clock."""
    import urllib.error
    import urllib.request

    from tollgate.core.clock import SYSTEM_CLOCK

    url = f"http://127.0.0.1:{os.environ.get('TOLLGATE_API_PORT', '3000')}/_local/clock"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            SYSTEM_CLOCK.set_offset(int(json.load(answer)["offset_s"]))
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        print("tollgate: the local gateway did not answer; using the wall clock", file=sys.stderr)


def _actor() -> str:
    return f"operator:{os.environ.get('TOLLGATE_OPERATOR') or getpass.getuser()}"


def _run(args: argparse.Namespace) -> Any:
    from tollgate import services
    from tollgate.core.models import Feature, TenantStatus, TokenPack
    from tollgate.edge.views import entry_view, tenant_view

    if args.command == "tenants":
        tenants = services.tenant_service().list_tenants()
        return [dict(tenant_view(t), balance=t.pool.balance, available=t.pool.available) for t in tenants]
    if args.command == "grant":
        key = args.idempotency_key or str(uuid.uuid4())
        entry = services.pool_service().grant(args.tenant, args.tokens, args.reason, _actor(), args.valid_days, key)
        return {k: v for k, v in entry_view(entry).items() if v is not None}
    if args.command == "audit":
        return _audit(args.tenant)
    if args.command == "reconcile":
        if not 1 <= args.since_hours <= 24 * 90:
            raise ValueError("--since-hours must be from 1 to 2160")
        return services.purchase_service().reconcile(args.since_hours * 3600, actor=_actor()).body()
    if args.command == "purchases":
        return _purchases(args)
    if args.command == "usage":
        return _usage(args)
    if args.command == "decisions":
        return _verify_decisions(args.tenant)
    if args.command in ("suspend", "resume"):
        status = TenantStatus.SUSPENDED if args.command == "suspend" else TenantStatus.ACTIVE
        return tenant_view(services.tenant_service().set_status(args.tenant, status))
    catalog = services.catalog()
    if args.catalog_command == "load":
        load_catalog(args.file)
    elif args.catalog_command == "set-feature":
        if args.cost_per_use < 0 or args.cost_per_hour < 0:
            raise ValueError("costs must not be negative")
        catalog.put_feature(Feature(args.id, args.cost_per_use, args.cost_per_hour, args.name))
    elif args.catalog_command == "set-pack":
        if args.tokens < 1 or args.price < 0 or (args.valid_days is not None and args.valid_days < 1):
            raise ValueError("a pack needs tokens ≥ 1, price ≥ 0 and valid days ≥ 1 when given")
        pack = TokenPack(args.id, args.tokens, args.price, args.currency, args.valid_days, args.name, args.stripe_price)
        check_pack_price(pack)
        catalog.put_pack(pack)
    from tollgate.edge.views import catalog_view

    return catalog_view(catalog.packs(), catalog.features())


class AuditFailed(Exception):
    """The audit found mismatches; ``report`` is what it prints."""

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("mismatches found")
        self.report = report


def _audit(tenant_id: str | None) -> dict[str, Any]:
    from infra.audit.books import DynamoBooks
    from infra.audit.rules import audit_tenant

    books = DynamoBooks()
    tenants = [tenant_id] if tenant_id else books.tenant_ids()
    mismatches = [text for tenant in tenants for text in audit_tenant(books.books(tenant))]
    report = {"tenants": len(tenants), "mismatches": mismatches}
    if mismatches:
        raise AuditFailed(report)
    return report


class ChainBroken(AuditFailed):
    """A tenant's decision chain does not verify."""


def _verify_decisions(tenant_id: str | None) -> dict[str, Any]:
    from infra.audit.books import DynamoBooks
    from tollgate.approvals.rules_decisions import verify_chain
    from tollgate.approvals.store_decisions import all_records, read_head

    tenants = [tenant_id] if tenant_id else DynamoBooks().tenant_ids()
    broken, records = [], 0
    for tenant in tenants:
        chain = list(all_records(tenant))
        records += len(chain)
        seq = verify_chain(chain, read_head(tenant))
        if seq is not None:
            broken.append({"tenant_id": tenant, "seq": seq})
            print(f"tollgate: tenant {tenant}: the decision chain breaks at seq {seq}", file=sys.stderr)
    report = {"tenants": len(tenants), "records": records, "broken": broken}
    if broken:
        raise ChainBroken(report)
    return report


class UsageDiffers(AuditFailed):
    """The rollups do not equal the ledger."""


def _usage(args: argparse.Namespace) -> Any:
    from dataclasses import asdict

    from tollgate import services
    from tollgate.reports.rules import rollups_of

    usage = services.usage_repository()
    if args.usage_command == "rebuild":
        return asdict(usage.rebuild(args.tenant))
    truth = {line.identity: line for line in rollups_of(usage.ledger(args.tenant))}
    kept = {line.identity: line for line in usage.all_lines(args.tenant)}
    differences = [
        f"{'/'.join(str(part) for part in identity)}: ledger {truth.get(identity)}, rollups {kept.get(identity)}"
        for identity in sorted(set(truth) | set(kept), key=str)
        if truth.get(identity) != kept.get(identity)
    ]
    report = {"tenant_id": args.tenant, "rollups": len(kept), "mismatches": differences}
    if differences:
        raise UsageDiffers(report)
    return report


def _purchases(args: argparse.Namespace) -> Any:
    from tollgate import services
    from tollgate.edge.views_purchases import purchase_view

    service = services.purchase_service()
    if args.purchases_command == "review":
        return [dict(purchase_view(p), tenant_id=p.tenant_id) for p in service.under_review()]
    resolved = service.resolve(args.purchase, credit=args.credit, reason=args.reason, actor=_actor())
    return dict(purchase_view(resolved), tenant_id=resolved.tenant_id)


def check_pack_price(pack: Any) -> None:
    """A pack given a Stripe Price must sell for what the pack costs: the price is read through Stripe."""
    if pack.stripe_price is None:
        return
    from tollgate.purchases.service_checkout import check_stripe_price
    from tollgate.purchases.stripe_checkout import StripeCheckout

    check_stripe_price(pack, StripeCheckout().price(pack.stripe_price))


def load_catalog(path: str) -> None:
    """Packs and features from a JSON file (``infra/catalog.json`` is the local default)."""
    from tollgate import services
    from tollgate.core.models import Feature, TokenPack

    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    catalog = services.catalog()
    packs = [
        TokenPack(
            p["id"],
            int(p["tokens"]),
            int(p["price"]),
            p.get("currency", "usd"),
            p.get("valid_days"),
            p.get("name", ""),
            p.get("stripe_price"),
        )
        for p in data.get("packs", [])
    ]
    for pack in packs:  # every price is checked before anything is written
        check_pack_price(pack)
    for f in data.get("features", []):
        catalog.put_feature(Feature(f["id"], int(f["cost_per_use"]), int(f["cost_per_hour"]), f.get("name", "")))
    for pack in packs:
        catalog.put_pack(pack)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure(args)
    from tollgate.core.errors import TollgateError

    try:
        result = billing.run(args, _actor()) if args.command in billing.COMMANDS else _run(args)
    except TollgateError as error:
        print(f"tollgate: {error.code}: {error.message}", file=sys.stderr)
        return EXIT_FAILED
    except AuditFailed as failed:
        print(json.dumps(failed.report, indent=None if args.json else 2))
        return EXIT_FAILED
    except ValueError as error:
        print(f"tollgate: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # the operator sees what failed, not a traceback
        print(f"tollgate: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(result, indent=None if args.json else 2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
