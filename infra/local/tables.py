"""Create the local table from the template's own ``TollgateTable`` definition.

Tests and the local stack build the table from ``template.yaml``, so they cannot drift from the deployed
infrastructure. Works with any boto3 DynamoDB client: DynamoDB Local or moto.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.local.template import DEFAULT_TABLE_LOGICAL_ID, TableSpec, load_table_spec

_INDEX_KEYS = ("IndexName", "KeySchema", "Projection")


def create_table_request(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """The CreateTable request for ``spec``, always on-demand (PAY_PER_REQUEST)."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": spec.attribute_definitions,
        "KeySchema": spec.key_schema,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.global_secondary_indexes:
        request["GlobalSecondaryIndexes"] = [
            {k: index[k] for k in _INDEX_KEYS if k in index} for index in spec.global_secondary_indexes
        ]
    if spec.stream_view_type:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
    if spec.local_secondary_indexes:
        request["LocalSecondaryIndexes"] = [
            {k: index[k] for k in _INDEX_KEYS if k in index} for index in spec.local_secondary_indexes
        ]
    return request


def create_table(
    client: Any,
    table_name: str,
    template_path: str | Path,
    *,
    table_logical_id: str = DEFAULT_TABLE_LOGICAL_ID,
) -> bool:
    """Create ``table_name`` as the template defines it; True if created, False if it already existed.

    The template's TTL attribute is switched on too (DynamoDB Local accepts it but never expires items).
    """
    spec = load_table_spec(template_path, table_logical_id)
    try:
        client.create_table(**create_table_request(spec, table_name))
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if spec.ttl_attribute:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
        )
    return True
