"""The pool's portal routes: the balance and the ledger. (Spending, the SDK's route, is ``routes_spending``:
the hot path imports no pydantic.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tollgate.core.roles import Permission
from tollgate.edge.params import Cursor, PageLimit, page_size
from tollgate.edge.refusals import answers
from tollgate.edge.routing import CapabilityRouter, principal
from tollgate.edge.views import balance_view, entry_view
from tollgate.pool.models import BalanceAnswer, LedgerAnswer

if TYPE_CHECKING:
    from tollgate.pool.service import PoolService


class PoolServices(Protocol):
    def pool_service(self) -> PoolService: ...


router: CapabilityRouter[PoolServices] = CapabilityRouter()


@router.get(
    "/v1/balance", permission=Permission.READ_BALANCE, responses=answers(200, BalanceAnswer, 401, 403), tags=["pool"]
)
def get_balance() -> BalanceAnswer:
    return BalanceAnswer.model_validate(balance_view(router.services.pool_service().balance(principal())))


@router.get(
    "/v1/ledger", permission=Permission.READ_LEDGER, responses=answers(200, LedgerAnswer, 401, 403), tags=["pool"]
)
def get_ledger(limit: PageLimit = None, cursor: Cursor = None) -> LedgerAnswer:
    page = router.services.pool_service().ledger(principal(), cursor, page_size(limit))
    return LedgerAnswer.model_validate({"entries": [entry_view(e) for e in page.entries], "next_cursor": page.cursor})
