"""The vendor's catalog: token packs for sale and the features whose use costs tokens."""

from __future__ import annotations

from typing import Protocol

from tollgate.core.models import Feature, TokenPack


class CatalogRepository(Protocol):
    def feature(self, feature_id: str) -> Feature | None: ...

    def features(self) -> list[Feature]: ...

    def pack(self, pack_id: str) -> TokenPack | None: ...

    def packs(self) -> list[TokenPack]: ...

    def put_feature(self, feature: Feature) -> None: ...

    def put_pack(self, pack: TokenPack) -> None: ...
