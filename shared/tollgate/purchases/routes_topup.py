"""Auto top-up in the portal (owner, admin, billing): ``POST /v1/payment-methods/setup``, ``GET
/v1/payment-methods``, ``GET`` and ``PUT /v1/auto-top-up``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from tollgate.core.roles import Permission
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.purchases.models_topup import AutoTopUpAnswer, AutoTopUpBody, PaymentMethodsAnswer, SetupAnswer

if TYPE_CHECKING:
    from tollgate.purchases.rules_payment_facts import SavedCard
    from tollgate.purchases.rules_topup import TopUpSettings
    from tollgate.purchases.service_topup import TopUps


class TopUpServices(Protocol):
    def topups(self) -> TopUps: ...


router: CapabilityRouter[TopUpServices] = CapabilityRouter()
TAGS = ["purchases"]


def card_view(card: SavedCard, default: bool) -> dict[str, Any]:
    return {"id": card.id, "brand": card.brand, "last4": card.last4, "default": default}


def topup_view(settings: TopUpSettings | None, card: SavedCard | None, now: int) -> dict[str, Any]:
    view: dict[str, Any] = {
        "enabled": bool(settings and settings.enabled),
        "threshold": settings.threshold if settings else None,
        "pack_id": settings.pack_id if settings else None,
        "quantity": settings.quantity if settings else None,
        "monthly_limit": settings.monthly_limit if settings else None,
        "payment_method": card_view(card, True) if card else None,
        "purchases_this_month": settings.purchases_in(now) if settings else 0,
        "consecutive_failures": settings.failures if settings else 0,
    }
    if settings is not None and not settings.enabled and settings.disabled_reason:
        view["disabled_reason"] = settings.disabled_reason
    return view


@router.post(
    "/v1/payment-methods/setup",
    permission=Permission.BUY,
    status_code=201,
    responses=answers(201, SetupAnswer, 401, 403, 409, 503),
    tags=TAGS,
)
def setup_payment_method() -> SetupAnswer:
    session_id, url = router.services.topups().setup(principal())
    return SetupAnswer(checkout_url=url, session_id=session_id)


@router.get(
    "/v1/payment-methods",
    permission=Permission.BUY,
    responses=answers(200, PaymentMethodsAnswer, 401, 403, 503),
    tags=TAGS,
)
def list_payment_methods() -> PaymentMethodsAnswer:
    cards = router.services.topups().cards(principal())
    return PaymentMethodsAnswer.model_validate(
        {"payment_methods": [card_view(card, index == 0) for index, card in enumerate(cards)]}
    )


@router.get("/v1/auto-top-up", permission=Permission.BUY, responses=answers(200, AutoTopUpAnswer, 401, 403), tags=TAGS)
def get_auto_top_up() -> AutoTopUpAnswer:
    topups = router.services.topups()
    settings, card = topups.read(principal())
    return AutoTopUpAnswer.model_validate(topup_view(settings, card, topups.now()))


@router.put(
    "/v1/auto-top-up",
    permission=Permission.BUY,
    responses=answers(200, AutoTopUpAnswer, 400, 401, 403, 409, 422, 503),
    tags=TAGS,
)
def put_auto_top_up(body: AutoTopUpBody) -> AutoTopUpAnswer:
    topups = router.services.topups()
    caller = principal()
    topups.put(caller, body.enabled, body.threshold, body.pack_id, body.quantity, body.monthly_limit)
    settings, card = topups.read(caller)
    return AutoTopUpAnswer.model_validate(topup_view(settings, card, topups.now()))
