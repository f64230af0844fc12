"""The validation function's composition root, kept apart from ``services`` so that its cold start loads
the validation path only (``services`` imports every domain service; docs/performance.md has the figures).
"""

from __future__ import annotations

from functools import cache

from tollgate.core import snapstart
from tollgate.core.clock import SYSTEM_CLOCK
from tollgate.core.settings import secret, settings
from tollgate.kernel.client import new_client
from tollgate.keys.rules_receipts import ReceiptSigner
from tollgate.keys.service_validation import ValidationService
from tollgate.keys.store_validation import DynamoLicenseKeyReader


@cache
def license_key_reader() -> DynamoLicenseKeyReader:
    """Tenant, license key (and project) in one BatchGetItem, through one botocore client per process,
    made anew in each environment restored from a SnapStart snapshot."""
    reader = DynamoLicenseKeyReader(new_client())
    snapstart.after_restore(lambda: reader.reconnect(new_client()))
    return reader


def serving_region() -> str:
    return settings().region


@cache
def validation_service() -> ValidationService:
    return ValidationService(
        reader=license_key_reader(),
        signer=ReceiptSigner(lambda: secret("RECEIPT_SIGNING_KEY")),
        clock=SYSTEM_CLOCK,
        serving_region=serving_region,
    )
