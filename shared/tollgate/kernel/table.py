"""Where the table is and how pynamodb reaches it; read once per cold start."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from tollgate.core.settings import settings

_config = settings()


class TableModel(Model):
    """Base of every item type: the single table's key, pointed at this deployment's table."""

    class Meta:
        table_name = _config.table_name
        region = _config.region
        host = _config.dynamodb_endpoint
        max_retry_attempts = 4
        base_backoff_ms = 25
        connect_timeout_seconds = 2
        read_timeout_seconds = 5

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    purge_at = NumberAttribute(null=True)  # DynamoDB TTL: clean-up only, never relied on for correctness
