"""Settings every test process shares. The data layer reads them once, at import, so they are set here
before anything imports it."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

os.environ.setdefault("TABLE_NAME", "tollgate-test")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("CREDENTIAL_PEPPER", "test-pepper")
os.environ.setdefault("WEBHOOK_SEALING_KEYS", "test1=test-webhook-sealing-key-not-secret-0123")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "TollgateTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tollgate-test")
