"""Buying tokens in the portal: the catalog and purchases. (Stripe's webhook is ``routes_stripe``: that
function loads no pydantic.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tollgate.core.roles import Permission
from tollgate.edge.params import Cursor, IdempotencyKey, PageLimit, page_size
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views import catalog_view
from tollgate.edge.views_purchases import purchase_view
from tollgate.purchases.models import NewPurchaseAnswer, PurchaseAnswer, PurchaseBody, PurchasesAnswer
from tollgate.purchases.models_catalog import CatalogAnswer

if TYPE_CHECKING:
    from tollgate.purchases.rules_catalog import CatalogRepository
    from tollgate.purchases.service import PurchaseService


class PurchaseServices(Protocol):
    def catalog(self) -> CatalogRepository: ...
    def purchase_service(self) -> PurchaseService: ...


router: CapabilityRouter[PurchaseServices] = CapabilityRouter()
TAGS = ["purchases"]


@router.get(
    "/v1/catalog", permission=Permission.READ_CATALOG, responses=answers(200, CatalogAnswer, 401, 403), tags=TAGS
)
def get_catalog() -> CatalogAnswer:
    catalog = router.services.catalog()
    return CatalogAnswer.model_validate(catalog_view(catalog.packs(), catalog.features()))


@router.post(
    "/v1/purchases",
    permission=Permission.BUY,
    status_code=201,
    responses=answers(201, NewPurchaseAnswer, 400, 401, 403, 409),
    tags=TAGS,
)
def create_purchase(body: PurchaseBody, idempotency_key: IdempotencyKey) -> NewPurchaseAnswer:
    purchase = router.services.purchase_service().create(
        principal(), body.pack_id, body.quantity, body.po_number, body.project_id, idempotency_key
    )
    return NewPurchaseAnswer.model_validate(
        {"purchase": purchase_view(purchase), "checkout_url": purchase.checkout_url}
    )


@router.get(
    "/v1/purchases", permission=Permission.READ_PURCHASES, responses=answers(200, PurchasesAnswer, 401, 403), tags=TAGS
)
def list_purchases(limit: PageLimit = None, cursor: Cursor = None) -> PurchasesAnswer:
    page = router.services.purchase_service().list(principal(), cursor, page_size(limit))
    return PurchasesAnswer.model_validate(
        {"purchases": [purchase_view(p) for p in page.purchases], "next_cursor": page.cursor}
    )


@router.get(
    "/v1/purchases/<purchase_id>",
    permission=Permission.READ_PURCHASES,
    responses=answers(200, PurchaseAnswer, 401, 403, 404),
    tags=TAGS,
)
def get_purchase(purchase_id: str) -> PurchaseAnswer:
    purchase = router.services.purchase_service().get(principal(), purchase_id)
    return PurchaseAnswer.model_validate({"purchase": purchase_view(purchase)})
