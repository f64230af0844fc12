"""pynamodb's way to DynamoDB: every item type and every transaction sends through the one client of
``tollgate.kernel.client`` (its timeouts, botocore's retries off, the one retry layer), never through a
client that pynamodb builds with its own defaults (15 s connect, 30 s read, 3 retries).

``TableModel`` (``tollgate.kernel.table``) gives each item type a ``SharedClientConnection`` carrying that
type's schema; ``shared_connection`` is the one for transactions (``TransactWrite``/``TransactGet``) and
raw calls. Code elsewhere never builds a ``Connection`` or a client (a unit test walks the source for it).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.connection.base import MetaTable

from tollgate.core.settings import settings
from tollgate.kernel.client import CONNECT_TIMEOUT_S, shared_client


class SharedClientConnection(Connection):
    """A pynamodb connection whose botocore client is the process's one client."""

    @property
    def client(self) -> Any:
        return shared_client()


def new_connection(meta_table: MetaTable | None = None) -> SharedClientConnection:
    """A connection with the one settings (those pynamodb would read are set too, though the shared client
    is what sends); ``meta_table``: the schema of the item type it serves."""
    config = settings()
    connection = SharedClientConnection(
        region=config.region,
        host=config.dynamodb_endpoint,
        connect_timeout_seconds=CONNECT_TIMEOUT_S,
        read_timeout_seconds=config.dynamodb_read_timeout_s,
        max_retry_attempts=0,
    )
    if meta_table is not None:
        connection.add_meta_table(meta_table)
    return connection


@cache
def shared_connection() -> SharedClientConnection:
    """The connection of transactions and raw calls, built once per cold start."""
    return new_connection()
