"""``tollgate catalog list|load|set-feature|set-pack``: the token packs and features tenants see."""

from __future__ import annotations

import json
from typing import Any

import click

from infra.cli.output import Session, command, group, integer, rows, show

PACK_COLUMNS = (
    ("id", "pack"),
    ("name", "name"),
    ("tokens", "tokens"),
    ("price", "price"),
    ("currency", "currency"),
    ("valid_days", "valid days"),
)
FEATURE_COLUMNS = (("id", "feature"), ("name", "name"), ("cost_per_use", "per use"), ("cost_per_hour", "per hour"))


@group(name="catalog", short_help="Show or change the catalog (token packs and features).")
def catalog() -> None:
    """The catalog: token packs tenants buy through Stripe Checkout, and features with their cost per use
    and per hour. Every change prints the whole catalog; warm functions see it within a minute."""


def _show_catalog(session: Session) -> None:
    kept = session.services().catalog()
    from tollgate.edge.views import catalog_view

    view = catalog_view(kept.packs(), kept.features())
    packs = rows("Token packs", PACK_COLUMNS, view["packs"], numeric=("tokens", "price", "valid_days"))
    features = rows("Features", FEATURE_COLUMNS, view["features"], numeric=("cost_per_use", "cost_per_hour"))
    session.emit(view, show(packs, features))


@command(name="list", short_help="Show packs and features.")
def list_catalog(session: Session) -> None:
    """Show the token packs (tokens, price in the currency's smallest unit, validity) and the features
    (tokens per use and per hour)."""
    _show_catalog(session)


@command(
    name="load",
    short_help="Create or change packs and features from a JSON file.",
    epilog="""\b
Example:
  tollgate --local catalog load infra/catalog.json""",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def load(session: Session, file: str) -> None:
    """Create or change packs and features from a JSON file:
    {"features": [{"id", "cost_per_use", "cost_per_hour", "name"?}], "packs": [{"id", "tokens", "price",
    "currency"?, "valid_days"?, "name"?, "stripe_price"?}]}. Every pack's Stripe price is checked before
    anything is written."""
    session.services()
    load_catalog(file)
    _show_catalog(session)


@command(
    name="set-feature",
    short_help="Create or change a feature's cost.",
    epilog="""\b
Example:
  tollgate catalog set-feature build --cost-per-use 1 --cost-per-hour 10 --name Build""",
)
@click.argument("feature_id", metavar="ID")
@click.option("--cost-per-use", type=integer(0), metavar="TOKENS", required=True, help="Tokens per use.")
@click.option("--cost-per-hour", type=integer(0), metavar="TOKENS", required=True, help="Tokens per hour of a lease.")
@click.option("--name", default="", help="What tenants see.")
def set_feature(session: Session, feature_id: str, cost_per_use: int, cost_per_hour: int, name: str) -> None:
    """Create or change a feature and its costs in tokens."""
    kept = session.services().catalog()
    from tollgate.core.models import Feature

    kept.put_feature(Feature(feature_id, cost_per_use, cost_per_hour, name))
    _show_catalog(session)


@command(
    name="set-pack",
    short_help="Create or change a token pack.",
    epilog="""\b
Example:
  tollgate catalog set-pack starter --tokens 1000 --price 1000 --currency usd --valid-days 365""",
)
@click.argument("pack_id", metavar="ID")
@click.option("--tokens", type=integer(1), metavar="N", required=True, help="Tokens in one pack.")
@click.option("--price", type=integer(0), metavar="CENTS", required=True, help="In the currency's smallest unit.")
@click.option("--currency", default="usd", metavar="CODE", show_default=True, help="ISO 4217 currency code.")
@click.option("--valid-days", type=integer(1), metavar="DAYS", help="The tokens expire after this many days.")
@click.option(
    "--stripe-price",
    metavar="PRICE_ID",
    help="A Stripe Price to sell it with (else price_data is sent); its amount and currency must match.",
)
@click.option("--name", default="", help="What tenants see.")
def set_pack(
    session: Session,
    pack_id: str,
    tokens: int,
    price: int,
    currency: str,
    valid_days: int | None,
    stripe_price: str | None,
    name: str,
) -> None:
    """Create or change a token pack. With --stripe-price, the price is read from Stripe and must sell for
    the pack's price in its currency."""
    kept = session.services().catalog()
    from tollgate.core.models import TokenPack

    pack = TokenPack(pack_id, tokens, price, currency, valid_days, name, stripe_price)
    check_pack_price(pack)
    kept.put_pack(pack)
    _show_catalog(session)


for _command in (list_catalog, load, set_feature, set_pack):
    catalog.add_command(_command)


def check_pack_price(pack: Any) -> None:
    """A pack given a Stripe Price must sell for what the pack costs: the price is read through Stripe."""
    if pack.stripe_price is None:
        return
    from tollgate.purchases.service_checkout import check_stripe_price
    from tollgate.purchases.stripe_checkout import StripeCheckout

    check_stripe_price(pack, StripeCheckout().price(pack.stripe_price))


def load_catalog(path: str) -> None:
    """Packs and features from a JSON file (``infra/catalog.json`` is the local default). The data layer
    must already be aimed at a table (``Session.services()`` or the local stack's seeding)."""
    from tollgate import services
    from tollgate.core.models import Feature, TokenPack

    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    kept = services.catalog()
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
        kept.put_feature(Feature(f["id"], int(f["cost_per_use"]), int(f["cost_per_hour"]), f.get("name", "")))
    for pack in packs:
        kept.put_pack(pack)
