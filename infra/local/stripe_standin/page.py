"""The hosted Checkout page a Session's ``url`` points to: what is bought, the total, and a Pay button."""

from __future__ import annotations

from html import escape
from typing import Any

JSON = dict[str, Any]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#1a1f36}"
    "table{width:100%;border-collapse:collapse}td,th{padding:.4rem;border-bottom:1px solid #e3e8ee;text-align:left}"
    "td.n,th.n{text-align:right}button{background:#635bff;color:#fff;border:0;padding:.7rem 2rem;"
    "border-radius:6px;font-size:1rem;cursor:pointer}.note{color:#697386;font-size:.85rem}"
)


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def checkout(session: JSON, line_items: list[JSON]) -> str:
    rows = "\n".join(
        f'<tr><td>{escape(item["description"])}</td><td class="n">{item["quantity"]}</td>'
        f'<td class="n">{money(item["amount_total"], item["currency"])}</td></tr>'
        for item in line_items
    )
    total = money(session["amount_total"], session["currency"])
    cancel = f' <a href="{escape(session["cancel_url"])}">Cancel</a>' if session.get("cancel_url") else ""
    body = (
        "<h1>Checkout</h1>\n"
        f'<p class="note">Stripe stand-in (test mode) &middot; session <code>{escape(session["id"])}</code></p>\n'
        '<table><thead><tr><th>Pack</th><th class="n">Quantity</th><th class="n">Amount</th></tr></thead>\n'
        f"<tbody>\n{rows}\n</tbody>\n"
        f'<tfoot><tr><th>Total</th><th></th><th class="n" id="total">{total}</th></tr></tfoot></table>\n'
        f'<form method="post" action="/checkout/{escape(session["id"])}/pay">'
        f'<p><button type="submit">Pay {total}</button>{cancel}</p></form>'
    )
    return _document("Checkout", body)


def closed(session: JSON) -> str:
    state = "paid" if session["payment_status"] == "paid" else session["status"]
    body = (
        f"<h1>Checkout {escape(state)}</h1>\n"
        f"<p>Session <code>{escape(session['id'])}</code> is {escape(session['status'])}, "
        f"payment {escape(session['payment_status'])}.</p>"
    )
    return _document(f"Checkout {state}", body)


def not_found(session_id: str) -> str:
    return _document("Not found", f"<h1>No such Checkout Session</h1>\n<p><code>{escape(session_id)}</code></p>")
