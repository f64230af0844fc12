"""Where the table is and how pynamodb reaches it; read once per cold start."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import TableConnection
from pynamodb.models import Model

from tollgate.core.settings import settings
from tollgate.kernel.client import CONNECT_TIMEOUT_S
from tollgate.kernel.connection import SharedClientConnection, new_connection

_config = settings()


class TableModel(Model):
    """Base of every item type: the single table's key, pointed at this deployment's table, reached through
    the one client (``tollgate.kernel.connection``). The timeouts below are the one settings too, so that
    nothing pynamodb could build from them differs; botocore's retries are off (``max_retry_attempts``)."""

    class Meta:
        table_name = _config.table_name
        region = _config.region
        host = _config.dynamodb_endpoint
        max_retry_attempts = 0
        connect_timeout_seconds = CONNECT_TIMEOUT_S
        read_timeout_seconds = _config.dynamodb_read_timeout_s

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    purge_at = NumberAttribute(null=True)  # DynamoDB TTL: clean-up only, never relied on for correctness

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """pynamodb's connection of this item type (its schema), sending through the one client. Never a
        parent class's: pynamodb would reuse an inherited one, and with it the parent's indexes."""
        if "_connection" not in cls.__dict__:
            cls._connection = None
        table = super()._get_connection()
        if not isinstance(table.connection, SharedClientConnection):
            table.connection = new_connection(table.connection.get_meta_table(cls.Meta.table_name))
        return table
