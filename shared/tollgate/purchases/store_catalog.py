"""The catalog, read through a short in-process cache: it changes rarely and the hot paths read it."""

from __future__ import annotations

from tollgate.core.clock import Clock
from tollgate.core.models import Feature, TokenPack
from tollgate.kernel import keys
from tollgate.kernel.errors import busy_as_store_busy
from tollgate.kernel.items import CatalogItem

CACHE_S = 60


def _feature(item: CatalogItem) -> Feature:
    return Feature(
        id=item.item_id,
        name=item.name,
        cost_per_use=int(item.cost_per_use or 0),
        cost_per_hour=int(item.cost_per_hour or 0),
    )


def _pack(item: CatalogItem) -> TokenPack:
    return TokenPack(
        id=item.item_id,
        name=item.name,
        tokens=int(item.tokens or 0),
        price=int(item.price or 0),
        currency=item.currency or "usd",
        valid_days=None if item.valid_days is None else int(item.valid_days),
        stripe_price=item.stripe_price,
    )


class DynamoCatalogRepository:
    """Features and packs; an operator's change is seen by warm functions within ``CACHE_S`` seconds."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._loaded_at: int | None = None
        self._features: dict[str, Feature] = {}
        self._packs: dict[str, TokenPack] = {}

    def _fresh(self) -> None:
        now = self._clock.now()
        if self._loaded_at is not None and now - self._loaded_at < CACHE_S:
            return
        with busy_as_store_busy():
            items = list(CatalogItem.query(keys.CATALOG_PK))
        self._features = {i.item_id: _feature(i) for i in items if i.sk.startswith("FEATURE#") and i.active}
        self._packs = {i.item_id: _pack(i) for i in items if i.sk.startswith("PACK#") and i.active}
        self._loaded_at = now

    def feature(self, feature_id: str) -> Feature | None:
        self._fresh()
        return self._features.get(feature_id)

    def features(self) -> list[Feature]:
        self._fresh()
        return sorted(self._features.values(), key=lambda f: f.id)

    def pack(self, pack_id: str) -> TokenPack | None:
        self._fresh()
        return self._packs.get(pack_id)

    def packs(self) -> list[TokenPack]:
        self._fresh()
        return sorted(self._packs.values(), key=lambda p: (p.tokens, p.id))

    def put_feature(self, feature: Feature) -> None:
        with busy_as_store_busy():
            CatalogItem(
                keys.CATALOG_PK,
                keys.feature_sk(feature.id),
                item_id=feature.id,
                name=feature.name,
                cost_per_use=feature.cost_per_use,
                cost_per_hour=feature.cost_per_hour,
            ).save()
        self._loaded_at = None

    def put_pack(self, pack: TokenPack) -> None:
        with busy_as_store_busy():
            CatalogItem(
                keys.CATALOG_PK,
                keys.pack_sk(pack.id),
                item_id=pack.id,
                name=pack.name,
                tokens=pack.tokens,
                price=pack.price,
                currency=pack.currency,
                valid_days=pack.valid_days,
                stripe_price=pack.stripe_price,
            ).save()
        self._loaded_at = None
