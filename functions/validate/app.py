"""The SDK's hot path: ``POST /v1/validate`` and ``GET /v1/.well-known/jwks.json``, served by
``tollgate.keys.routes_validation``. Its own composition root (``tollgate.validation_services``): the cold
start loads the validation path only."""

from __future__ import annotations

from tollgate.core import snapstart
from tollgate.keys.routes_validation import handler_for
from tollgate.keys.rules_receipts import load_primitives
from tollgate.validation_services import validation_service

validation = validation_service()  # builds the botocore client now, once per cold start
snapstart.before_snapshot(load_primitives)  # SnapStart: the snapshot carries the Ed25519 code too
snapstart.install()
handler = handler_for(validation)
