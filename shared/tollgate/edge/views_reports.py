"""How usage reports, forecasts and purchase usage look in API answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tollgate.edge.views import iso
from tollgate.reports.rules import UsageReport, day_of

if TYPE_CHECKING:
    from tollgate.events.service_alerts import Alert
    from tollgate.reports.rules_forecast import Forecast
    from tollgate.reports.service import PurchaseUsage


def usage_view(usage: UsageReport) -> dict[str, Any]:
    return {
        "first_day": usage.range.first,
        "last_day": usage.range.last,
        "granularity": usage.granularity.value,
        "group_by": [d.value for d in usage.group_by],
        "rows": [
            {
                "period": row.period,
                "feature": row.feature,
                "project_id": row.project_id,
                "key_id": row.key_id,
                "tokens": row.tokens,
                "quantity": row.quantity,
                "count": row.count,
            }
            for row in usage.rows
        ],
        "totals": {"tokens": usage.totals.tokens, "quantity": usage.totals.quantity, "count": usage.totals.count},
    }


def forecast_view(forecast: Forecast) -> dict[str, Any]:
    return {
        "burn_rate": {
            f"last_{rate.days}_days": {
                "days": rate.days,
                "days_counted": rate.days_counted,
                "tokens": rate.tokens,
                "per_day": round(rate.per_day, 3),
            }
            for rate in forecast.rates
        },
        "rate_used": round(forecast.rate_used, 3),
        "available": forecast.available,
        "depletes_at": iso(forecast.depletes_at),
        "depletion_date": forecast.depletion_date,
        "lots": [
            {
                "id": lot.view.lot.id,
                "purchase_id": lot.view.lot.purchase_id,
                "left": lot.view.left,
                "expires_at": iso(lot.view.lot.expires_at),
                "projected_unused": lot.projected_unused,
            }
            for lot in forecast.lots
        ],
        "projects": [
            {
                "id": p.project.id,
                "budget": p.project.budget,
                "budget_left": p.project.budget_left,
                "per_day": round(p.rate.per_day, 3),
                "depletes_at": iso(p.depletes_at),
                "depletion_date": None if p.depletes_at is None else day_of(p.depletes_at),
            }
            for p in forecast.projects
        ],
    }


def purchase_usage_view(usage: PurchaseUsage) -> dict[str, Any]:
    return {
        "purchase_id": usage.purchase.id,
        "status": usage.purchase.status.value,
        "po_number": usage.purchase.po_number,
        "project_id": usage.purchase.project_id,
        "tokens": usage.tokens,
        "consumed": usage.consumed,
        "expired": usage.expired,
        "taken_back": usage.taken_back,
        "remaining": usage.remaining,
        "lot_ids": usage.lots,
    }


def alert_view(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "threshold": alert.threshold,
        "project_id": alert.project_id,
        "state": alert.state.value,
        "created_at": iso(alert.created_at),
        "changed_at": iso(alert.changed_at),
    }
