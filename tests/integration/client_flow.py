"""What a new user does with the client that openapi-python-client generates from the document, one step per
run: ``python client_flow.py STEP API [ARGS…]`` prints one JSON object. It runs in the generator's own
environment (``.venv-openapi``: httpx, attrs, dateutil), with the generated package on ``PYTHONPATH``;
``test_generated_client.py`` drives it against the local stack and checks what it prints.

Steps: ``buy API`` (sign up, buy a pack through Checkout: prints the session to pay), ``spend API OWNER``
(after the payment: the purchase paid, a license key, a consume, a policy that denies one feature and a
consume it refuses), ``report API OWNER`` (usage as CSV, the decision log as JSON Lines).
"""

from __future__ import annotations

import datetime
import json
import sys
import uuid
from typing import Any

from tollgate_client import AuthenticatedClient, Client  # type: ignore[import-not-found]
from tollgate_client.api.approvals import export_decisions, replace_policy  # type: ignore[import-not-found]
from tollgate_client.api.license_keys import create_license_key  # type: ignore[import-not-found]
from tollgate_client.api.pool import get_balance  # type: ignore[import-not-found]
from tollgate_client.api.purchases import create_purchase, get_catalog, list_purchases  # type: ignore[import-not-found]
from tollgate_client.api.reports import get_usage_csv  # type: ignore[import-not-found]
from tollgate_client.api.sdk import consume  # type: ignore[import-not-found]
from tollgate_client.api.tenant import sign_up  # type: ignore[import-not-found]
from tollgate_client.models import (  # type: ignore[import-not-found]
    ConsumeAnswer,
    ConsumeBody,
    Error,
    LicenseKeyBody,
    PolicyBody,
    PurchaseBody,
    SignupBody,
)


def buy(api: str) -> dict[str, Any]:
    public = Client(base_url=api, raise_on_unexpected_status=True)
    signed = sign_up.sync(client=public, body=SignupBody(name="Generated Client Ltd", email="ops@generated.example"))
    owner = AuthenticatedClient(base_url=api, token=signed.api_key.secret, raise_on_unexpected_status=True)
    catalog = get_catalog.sync(client=owner)
    pack = next(p for p in catalog.packs if p.id == "starter")
    bought = create_purchase.sync(
        client=owner, body=PurchaseBody(pack_id=pack.id, quantity=1), idempotency_key=str(uuid.uuid4())
    )
    return {
        "tenant_id": signed.tenant.id,
        "owner": signed.api_key.secret,
        "tokens": pack.tokens,
        "session": bought.purchase.stripe_session_id,
        "checkout_url": bought.checkout_url,
        "status": bought.purchase.status,
    }


def spend(api: str, owner_key: str) -> dict[str, Any]:
    owner = AuthenticatedClient(base_url=api, token=owner_key, raise_on_unexpected_status=True)
    purchases = list_purchases.sync(client=owner)
    key_body = LicenseKeyBody.from_dict({"name": "build server", "regions": ["*"]})  # regions: an enum
    made = create_license_key.sync(client=owner, body=key_body)
    sdk = AuthenticatedClient(base_url=api, token=made.secret, raise_on_unexpected_status=True)
    charged = consume.sync(client=sdk, body=ConsumeBody(feature="build", quantity=3), idempotency_key="flow-1")
    policy = {
        "default_effect": "allow",
        "rules": [{"id": "no-scans", "effect": "deny", "match": {"features": ["scan"]}}],
    }
    replaced = replace_policy.sync(client=owner, body=PolicyBody.from_dict(policy), if_match='"0"')
    refused = consume.sync_detailed(client=sdk, body=ConsumeBody(feature="scan"), idempotency_key="flow-2")
    balance = get_balance.sync(client=owner)
    assert isinstance(charged, ConsumeAnswer) and isinstance(refused.parsed, Error)
    first_created = purchases.purchases[0].created_at
    return {
        "purchase_status": purchases.purchases[0].status,
        "created_at_is_datetime": isinstance(first_created, datetime.datetime),
        "charged": charged.charged,
        "policy_version": replaced.policy.version,
        "refused": [int(refused.status_code), refused.parsed.error.code],
        "balance": balance.balance,
    }


def report(api: str, owner_key: str) -> dict[str, Any]:
    owner = AuthenticatedClient(base_url=api, token=owner_key, raise_on_unexpected_status=True)
    week_ago = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=7)
    csv_text = get_usage_csv.sync(client=owner, from_=week_ago, group_by="feature")  # a date, typed
    ndjson = export_decisions.sync(client=owner)
    return {"csv": csv_text, "ndjson": ndjson}


if __name__ == "__main__":
    step, api, *rest = sys.argv[1:]
    steps = {"buy": buy, "spend": spend, "report": report}
    print(json.dumps(steps[step](api, *rest)))
