"""Build Stripe-shaped objects: the field names, nesting and id prefixes of Stripe's own examples.

Each builder returns a fresh dict with every field of Stripe's example object that makes sense for a
one-time card payment through hosted Checkout; features the stand-in does not model (tax, shipping,
discounts, Connect) are present with the values Stripe answers when they are off.
"""

from __future__ import annotations

from typing import Any

from . import ids

JSON = dict[str, Any]

API_VERSION = "2026-10-28.endive"
SESSION_LIFETIME_S = 24 * 3600
DISPUTE_RESPONSE_WINDOW_S = 7 * 24 * 3600


def empty_address() -> JSON:
    return {"city": None, "country": None, "line1": None, "line2": None, "postal_code": None, "state": None}


def list_object(data: list[JSON], url: str, *, has_more: bool = False) -> JSON:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def customer(
    *,
    created: int,
    name: str | None,
    email: str | None,
    description: str | None,
    phone: str | None,
    metadata: dict[str, str],
    preferred_locales: list[str],
    address: JSON | None,
) -> JSON:
    return {
        "id": ids.new_id("cus"),
        "object": "customer",
        "address": address,
        "balance": 0,
        "created": created,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": description,
        "discount": None,
        "email": email,
        "invoice_prefix": ids.invoice_prefix(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": metadata,
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": preferred_locales,
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(*, created: int, name: str, description: str | None, metadata: dict[str, str], active: bool) -> JSON:
    return {
        "id": ids.new_id("prod"),
        "object": "product",
        "active": active,
        "created": created,
        "default_price": None,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": metadata,
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def price(
    *,
    created: int,
    currency: str,
    unit_amount: int,
    product_id: str,
    recurring: JSON | None,
    nickname: str | None,
    lookup_key: str | None,
    metadata: dict[str, str],
    active: bool,
) -> JSON:
    return {
        "id": ids.new_id("price"),
        "object": "price",
        "active": active,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": metadata,
        "nickname": nickname,
        "product": product_id,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if recurring is None else "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def line_item(*, price_object: JSON, quantity: int, description: str) -> JSON:
    amount = price_object["unit_amount"] * quantity
    return {
        "id": ids.new_id("li"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": amount,
        "amount_tax": 0,
        "amount_total": amount,
        "currency": price_object["currency"],
        "description": description,
        "metadata": {},
        "price": price_object,
        "quantity": quantity,
    }


def custom_text() -> JSON:
    return {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None}


def checkout_session(
    *,
    session_id: str,
    created: int,
    expires_at: int,
    url: str,
    currency: str,
    amount: int,
    customer_id: str | None,
    customer_email: str | None,
    client_reference_id: str | None,
    success_url: str | None,
    cancel_url: str | None,
    metadata: dict[str, str],
    locale: str | None,
    allow_promotion_codes: bool | None,
    billing_address_collection: str | None,
    submit_type: str | None,
) -> JSON:
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": allow_promotion_codes,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": billing_address_collection,
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": custom_text(),
        "customer": customer_id,
        "customer_account": None,
        "customer_creation": None if customer_id else "if_required",
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": locale,
        "managed_payments": None,
        "metadata": metadata,
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": submit_type,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": url,
        "wallet_options": None,
    }


def customer_details(*, email: str | None, name: str | None) -> JSON:
    return {
        "address": empty_address(),
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def payment_intent(
    *,
    created: int,
    amount: int,
    currency: str,
    customer_id: str | None,
    description: str | None,
    metadata: dict[str, str],
    payment_method_id: str,
) -> JSON:
    intent_id = ids.new_id("pi")
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": ids.client_secret(intent_id),
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": payment_method_id,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "processing",
        "transfer_data": None,
        "transfer_group": None,
    }


def card_details() -> JSON:
    """A test Visa ending 4242, as Stripe's test card answers."""
    return {
        "amount_authorized": None,
        "authorization_code": None,
        "brand": "visa",
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US",
        "exp_month": 12,
        "exp_year": 2034,
        "extended_authorization": {"status": "disabled"},
        "fingerprint": "TollgateStandin1",
        "funding": "credit",
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "last4": "4242",
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": "visa",
        "network_token": {"used": False},
        "network_transaction_id": None,
        "overcapture": {"maximum_amount_capturable": 0, "status": "unavailable"},
        "regulated_status": "unregulated",
        "three_d_secure": None,
        "wallet": None,
    }


def charge(
    *,
    created: int,
    intent: JSON,
    email: str | None,
    name: str | None,
) -> JSON:
    charge_id = ids.new_id("ch")
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": {"address": empty_address(), "email": email, "name": name, "phone": None, "tax_id": None},
        "calculated_statement_descriptor": None,
        "captured": False,
        "created": created,
        "currency": intent["currency"],
        "customer": intent["customer"],
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": {"card": card_details(), "type": "card"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": list_object([], f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "pending",
        "transfer_data": None,
        "transfer_group": None,
    }


def authorized_outcome() -> JSON:
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }


def declined_outcome() -> JSON:
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "declined_by_network",
        "reason": "generic_decline",
        "seller_message": "The bank did not return any further details with this decline.",
        "type": "issuer_declined",
    }


def refund(*, created: int, charge_object: JSON, amount: int, reason: str | None, metadata: dict[str, str]) -> JSON:
    return {
        "id": ids.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": ids.new_id("txn"),
        "charge": charge_object["id"],
        "created": created,
        "currency": charge_object["currency"],
        "customer": charge_object["customer"],
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": metadata,
        "payment_intent": charge_object["payment_intent"],
        "payment_method": charge_object["payment_method"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def dispute_evidence() -> JSON:
    fields = [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ]
    evidence: JSON = dict.fromkeys(fields)
    evidence["enhanced_evidence"] = {}
    return evidence


def dispute(*, created: int, charge_object: JSON, amount: int, reason: str) -> JSON:
    return {
        "id": ids.new_id("dp"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge_object["id"],
        "created": created,
        "currency": charge_object["currency"],
        "enhanced_eligibility_types": [],
        "evidence": dispute_evidence(),
        "evidence_details": {
            "due_by": created + DISPUTE_RESPONSE_WINDOW_S,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge_object["payment_intent"],
        "payment_method_details": {
            "card": {"brand": "visa", "case_type": "chargeback", "network": "visa", "network_reason_code": "10.4"},
            "type": "card",
        },
        "reason": reason,
        "status": "needs_response",
    }


def event(
    *,
    created: int,
    event_type: str,
    data_object: JSON,
    pending_webhooks: int,
    request_id: str | None,
    idempotency_key: str | None,
) -> JSON:
    return {
        "id": ids.new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }
