"""The Stripe v1 endpoints Tollgate uses. Each handler runs with the store lock held, reads its
parameters through :class:`~.forms.Params` (refusing any it does not implement, as Stripe refuses
unknown ones) and returns the stored object; the server copies, expands and serialises it."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from . import ids, listing, objects, payments, saved_cards
from .context import Call, Core, Reply
from .errors import ApiError, invalid, missing
from .forms import Params
from .state import SessionExtras, Store

JSON = dict[str, Any]
Handler = Callable[[Core, Call], Reply]

MAX_AMOUNT = 99_999_999
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def _page(store: Store, kind: str, params: Params, url: str, keep: Callable[[JSON], bool]) -> Reply:
    newest = store.newest_first(kind)
    every_id = [obj["id"] for obj in newest]
    chosen = [obj for obj in newest if keep(obj)]
    return Reply(listing.page(chosen, params, url=url, kind=kind, all_ids=every_id))


# Customers


def _address(params: Params) -> JSON | None:
    given = params.child("address")
    if given is None:
        return None
    given.reject_unknown(ADDRESS_FIELDS)
    return {name: given.text(name) for name in ADDRESS_FIELDS}


def create_customer(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(
        ("name", "email", "description", "phone", "metadata", "address", "preferred_locales", "expand")
    )
    customer = objects.customer(
        created=core.store.now(),
        name=params.text("name"),
        email=params.text("email"),
        description=params.text("description"),
        phone=params.text("phone"),
        metadata=params.metadata(),
        preferred_locales=params.strings("preferred_locales"),
        address=_address(params),
    )
    return Reply(core.store.add(customer))


def update_customer(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(
        ("name", "email", "description", "phone", "metadata", "address", "preferred_locales", "expand")
    )
    customer = core.store.get("customer", call.args[0])
    changes: JSON = {
        name: params.text(name) for name in ("name", "email", "description", "phone") if name in params.data
    }
    if "metadata" in params.data:
        given = params.metadata()  # validates, and leaves out keys sent empty: Stripe unsets those
        sent = params.data["metadata"]
        merged = {} if sent == "" else {**customer["metadata"], **given}
        changes["metadata"] = {key: value for key, value in merged.items() if sent == "" or sent.get(key) != ""}
    if "address" in params.data:
        changes["address"] = _address(params)
    if "preferred_locales" in params.data:
        changes["preferred_locales"] = params.strings("preferred_locales")
    customer.update(changes)
    return Reply(customer)


def get_customer(core: Core, call: Call) -> Reply:
    call.params.reject_unknown(("expand",))
    return Reply(core.store.get("customer", call.args[0]))


def list_customers(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(("email", "created", *listing.PAGING))
    email = params.text("email")
    created = listing.created_filter(params)
    return _page(
        core.store,
        "customer",
        params,
        "/v1/customers",
        lambda obj: created(obj) and (email is None or obj["email"] == email),
    )


# Products and prices


def _new_product(store: Store, params: Params, *, allowed: tuple[str, ...]) -> JSON:
    params.reject_unknown(allowed)
    active = params.boolean("active")
    product = objects.product(
        created=store.now(),
        name=params.required_text("name"),
        description=params.text("description"),
        metadata=params.metadata(),
        active=True if active is None else active,
    )
    return store.add(product)


def create_product(core: Core, call: Call) -> Reply:
    return Reply(_new_product(core.store, call.params, allowed=("name", "description", "metadata", "active", "expand")))


def get_product(core: Core, call: Call) -> Reply:
    call.params.reject_unknown(("expand",))
    return Reply(core.store.get("product", call.args[0]))


def _unit_amount(params: Params) -> int:
    amount = params.integer("unit_amount", minimum=0, maximum=MAX_AMOUNT)
    if amount is not None:
        return amount
    decimal_text = params.text("unit_amount_decimal")
    if decimal_text is None:
        raise missing(params.path("unit_amount"))
    try:
        value = Decimal(decimal_text)
    except InvalidOperation:
        raise invalid(params.path("unit_amount_decimal"), f"Invalid decimal: {decimal_text}") from None
    if value != value.to_integral_value() or value < 0:
        raise invalid(
            params.path("unit_amount_decimal"),
            "The Stripe stand-in supports only whole amounts in the smallest currency unit.",
        )
    return int(value)


def _recurring(params: Params) -> JSON | None:
    given = params.child("recurring")
    if given is None:
        return None
    given.reject_unknown(("interval", "interval_count"))
    return {
        "interval": given.required_text("interval", choices=("day", "week", "month", "year")),
        "interval_count": given.integer("interval_count", minimum=1) or 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def _new_price(store: Store, params: Params, *, inline: bool) -> JSON:
    """A price from ``POST /v1/prices`` or, ``inline``, from a line item's ``price_data``."""
    if inline:
        params.reject_unknown(
            ("currency", "product", "product_data", "unit_amount", "unit_amount_decimal", "recurring")
        )
    else:
        params.reject_unknown(
            (
                "currency",
                "product",
                "product_data",
                "unit_amount",
                "unit_amount_decimal",
                "recurring",
                "nickname",
                "lookup_key",
                "metadata",
                "active",
                "expand",
            )
        )
    currency = params.required_text("currency").lower()
    product_id = params.text("product")
    product_data = params.child("product_data")
    if product_id is not None and product_data is not None:
        raise ApiError(
            400,
            "You may only specify one of these parameters: product, product_data.",
            code="parameters_exclusive",
            param=params.path("product"),
        )
    if product_id is not None:
        store.get("product", product_id, param=params.path("product"))
    elif product_data is not None:
        allowed = ("name", "description", "metadata") if inline else ("name", "metadata", "active")
        product_id = _new_product(store, product_data, allowed=allowed)["id"]
    else:
        raise missing(params.path("product"))
    active = None if inline else params.boolean("active")
    price = objects.price(
        created=store.now(),
        currency=currency,
        unit_amount=_unit_amount(params),
        product_id=product_id,
        recurring=_recurring(params),
        nickname=None if inline else params.text("nickname"),
        lookup_key=None if inline else params.text("lookup_key"),
        metadata={} if inline else params.metadata(),
        active=True if active is None else active,
    )
    return store.add(price)


def create_price(core: Core, call: Call) -> Reply:
    return Reply(_new_price(core.store, call.params, inline=False))


def get_price(core: Core, call: Call) -> Reply:
    call.params.reject_unknown(("expand",))
    return Reply(core.store.get("price", call.args[0]))


# Checkout Sessions


def _line_items(store: Store, params: Params) -> list[JSON]:
    items = []
    for line in params.items("line_items", required=True):
        line.reject_unknown(("price", "price_data", "quantity"))
        price_id = line.text("price")
        price_data = line.child("price_data")
        if price_id is not None and price_data is not None:
            raise ApiError(
                400,
                "You may only specify one of these parameters: price, price_data.",
                code="parameters_exclusive",
                param=line.path("price"),
            )
        if price_data is not None:
            price = _new_price(store, price_data, inline=True)
        elif price_id is not None:
            price = store.get("price", price_id, param=line.path("price"))
            if not price["active"]:
                raise invalid(line.path("price"), f"The price specified is inactive: {price_id}.")
        else:
            raise missing(line.path("price"))
        if price["recurring"] is not None:
            raise invalid(
                line.path("price"),
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` "
                "mode or use only one-time prices.",
            )
        quantity = line.required_integer("quantity", minimum=1)
        product = store.get("product", price["product"])
        items.append(objects.line_item(price_object=dict(price), quantity=quantity, description=product["name"]))
    currencies = {item["currency"] for item in items}
    if len(currencies) > 1:
        raise invalid("line_items", "All line_items of a Checkout Session must use the same currency.")
    return items


SESSION_PARAMS = (
    "mode",
    "line_items",
    "customer",
    "customer_email",
    "client_reference_id",
    "success_url",
    "cancel_url",
    "metadata",
    "payment_intent_data",
    "expires_at",
    "locale",
    "allow_promotion_codes",
    "billing_address_collection",
    "submit_type",
    "payment_method_types",
    "ui_mode",
    "expand",
)


def create_session(core: Core, call: Call) -> Reply:
    store, params = core.store, call.params
    params.reject_unknown(SESSION_PARAMS)
    mode = params.required_text("mode", choices=("payment", "setup", "subscription"))
    if mode == "setup":
        return saved_cards.setup_session(core, call)
    if mode != "payment":
        raise invalid("mode", "The Stripe stand-in supports only mode=payment or mode=setup.")
    params.text("ui_mode", choices=("hosted",))
    if params.strings("payment_method_types") not in ([], ["card"]):
        raise invalid("payment_method_types", "The Stripe stand-in supports only payment_method_types[]=card.")
    customer_id = params.text("customer")
    customer_email = params.text("customer_email")
    if customer_id is not None and customer_email is not None:
        raise ApiError(
            400,
            "You may only specify one of these parameters: customer, customer_email.",
            code="parameters_exclusive",
            param="customer_email",
        )
    if customer_id is not None:
        store.get("customer", customer_id, param="customer")
    client_reference_id = params.text("client_reference_id")
    if client_reference_id is not None and len(client_reference_id) > 200:
        raise invalid("client_reference_id", "client_reference_id may be up to 200 characters.")
    now = store.now()
    expires_at = params.integer("expires_at")
    if expires_at is None:
        expires_at = now + objects.SESSION_LIFETIME_S
    elif not now + 1800 <= expires_at <= now + objects.SESSION_LIFETIME_S:
        raise invalid("expires_at", "expires_at must be between 30 minutes and 24 hours after the session is created.")
    intent_data = params.child("payment_intent_data")
    if intent_data is not None:
        intent_data.reject_unknown(("metadata", "description"))
    items = _line_items(store, params)
    amount = sum(item["amount_total"] for item in items)
    if amount > MAX_AMOUNT:
        raise invalid("line_items", f"The total amount must be no more than {MAX_AMOUNT}.", "amount_too_large")
    session_id = ids.new_id("cs_test")
    session = objects.checkout_session(
        session_id=session_id,
        created=now,
        expires_at=expires_at,
        url=f"{core.base_url}/checkout/{session_id}",
        currency=items[0]["currency"],
        amount=amount,
        customer_id=customer_id,
        customer_email=customer_email,
        client_reference_id=client_reference_id,
        success_url=params.text("success_url"),
        cancel_url=params.text("cancel_url"),
        metadata=params.metadata(),
        locale=params.text("locale"),
        allow_promotion_codes=params.boolean("allow_promotion_codes"),
        billing_address_collection=params.text("billing_address_collection", choices=("auto", "required")),
        submit_type=params.text("submit_type", choices=("auto", "book", "donate", "pay", "subscribe")),
    )
    store.sessions[session_id] = SessionExtras(
        line_items=items,
        intent_description=intent_data.text("description") if intent_data else None,
        intent_metadata=intent_data.metadata() if intent_data else {},
    )
    return Reply(store.add(session))


def get_session(core: Core, call: Call) -> Reply:
    call.params.reject_unknown(("expand",))
    return Reply(core.store.get("checkout.session", call.args[0]))


def list_sessions(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(("status", "customer", "payment_intent", "customer_details", "created", *listing.PAGING))
    status = params.text("status", choices=("open", "complete", "expired"))
    customer = params.text("customer")
    intent = params.text("payment_intent")
    details = params.child("customer_details")
    email = details.required_text("email") if details is not None else None
    created = listing.created_filter(params)

    def keep(session: JSON) -> bool:
        return (
            created(session)
            and status in (None, session["status"])
            and customer in (None, session["customer"])
            and intent in (None, session["payment_intent"])
            and (email is None or (session["customer_details"] or {}).get("email") == email)
        )

    return _page(core.store, "checkout.session", params, "/v1/checkout/sessions", keep)


def session_line_items(store: Store, session_id: str) -> list[JSON]:
    store.get("checkout.session", session_id)
    return store.sessions[session_id].line_items


def list_session_line_items(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(listing.PAGING)
    items = session_line_items(core.store, call.args[0])
    url = f"/v1/checkout/sessions/{call.args[0]}/line_items"
    return Reply(listing.page(items, params, url=url, kind="item", all_ids=[item["id"] for item in items]))


def expire_session(core: Core, call: Call) -> Reply:
    call.params.reject_unknown(("expand",))
    event = payments.expire_session(core.store, call.args[0])
    return Reply(core.store.get("checkout.session", call.args[0]), deliver=[event["id"]])


# Payments, refunds, disputes, events


def _getter(kind: str) -> Handler:
    def get(core: Core, call: Call) -> Reply:
        call.params.reject_unknown(("expand",))
        return Reply(core.store.get(kind, call.args[0]))

    get.__name__ = f"get_{kind}"
    return get


def create_refund(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(("charge", "payment_intent", "amount", "reason", "metadata", "expand"))
    created, event = payments.refund(
        core.store,
        charge_id=params.text("charge"),
        intent_id=params.text("payment_intent"),
        amount=params.integer("amount", minimum=1),
        reason=params.text("reason", choices=REFUND_REASONS),
        metadata=params.metadata(),
        request_id=call.request_id,
        idempotency_key=call.idempotency_key,
    )
    return Reply(created, deliver=[event["id"]])


def list_events(core: Core, call: Call) -> Reply:
    params = call.params
    params.reject_unknown(("type", "types", "created", "delivery_success", *listing.PAGING))
    one_type = params.text("type")
    types = params.strings("types")
    if one_type is not None and types:
        raise ApiError(
            400,
            "You may only specify one of these parameters: type, types.",
            code="parameters_exclusive",
            param="types",
        )
    patterns = [one_type] if one_type is not None else types
    delivered = params.boolean("delivery_success")
    created = listing.created_filter(params)

    def keep(event: JSON) -> bool:
        matches = not patterns or any(fnmatch.fnmatchcase(event["type"], pattern) for pattern in patterns)
        pending = event["pending_webhooks"] > 0
        return created(event) and matches and (delivered is None or delivered != pending)

    return _page(core.store, "event", params, "/v1/events", keep)


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", r"/v1/customers", create_customer),
    ("GET", r"/v1/customers", list_customers),
    ("GET", r"/v1/customers/([^/]+)", get_customer),
    ("POST", r"/v1/customers/([^/]+)", update_customer),
    ("POST", r"/v1/products", create_product),
    ("GET", r"/v1/products/([^/]+)", get_product),
    ("POST", r"/v1/prices", create_price),
    ("GET", r"/v1/prices/([^/]+)", get_price),
    ("POST", r"/v1/checkout/sessions", create_session),
    ("GET", r"/v1/checkout/sessions", list_sessions),
    ("GET", r"/v1/checkout/sessions/([^/]+)", get_session),
    ("GET", r"/v1/checkout/sessions/([^/]+)/line_items", list_session_line_items),
    ("POST", r"/v1/checkout/sessions/([^/]+)/expire", expire_session),
    ("GET", r"/v1/payment_intents/([^/]+)", _getter("payment_intent")),
    ("POST", r"/v1/payment_intents", saved_cards.create_payment_intent),
    ("GET", r"/v1/setup_intents/([^/]+)", _getter("setup_intent")),
    ("GET", r"/v1/payment_methods", saved_cards.list_payment_methods),
    ("GET", r"/v1/payment_methods/([^/]+)", _getter("payment_method")),
    ("GET", r"/v1/customers/([^/]+)/payment_methods", saved_cards.list_payment_methods),
    ("GET", r"/v1/charges/([^/]+)", _getter("charge")),
    ("GET", r"/v1/disputes/([^/]+)", _getter("dispute")),
    ("POST", r"/v1/refunds", create_refund),
    ("GET", r"/v1/refunds/([^/]+)", _getter("refund")),
    ("GET", r"/v1/events", list_events),
    ("GET", r"/v1/events/([^/]+)", _getter("event")),
]
