"""The local table is created from the template's own definition (moto in-process)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local.tables import create_table
from infra.local.template import load_template
from tests.conftest import TEMPLATE

_SESSION = boto3.Session()


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        yield _SESSION.client("dynamodb", region_name="us-east-1")


def test_table_matches_the_template_and_creation_is_idempotent(client: Any) -> None:
    assert create_table(client, "tollgate-local", TEMPLATE) is True
    assert create_table(client, "tollgate-local", TEMPLATE) is False

    spec = load_template(TEMPLATE).table
    assert spec is not None
    table = client.describe_table(TableName="tollgate-local")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == spec.key_schema
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(spec.attribute_definitions, key=str)
    created = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(created) == {i["IndexName"] for i in spec.global_secondary_indexes}
    for index in spec.global_secondary_indexes:
        assert created[index["IndexName"]]["KeySchema"] == index["KeySchema"]
        assert created[index["IndexName"]]["Projection"] == index["Projection"]
    ttl = client.describe_time_to_live(TableName="tollgate-local")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", spec.ttl_attribute)


def test_a_provisioned_template_table_is_created_on_demand(client: Any, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            Resources:
              TollgateTable:
                Type: AWS::DynamoDB::Table
                Properties:
                  TableName: !Sub "t-${AWS::Region}"
                  BillingMode: PROVISIONED
                  ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}
                  AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
                  KeySchema: [{AttributeName: id, KeyType: HASH}]
            """
        )
    )
    assert create_table(client, "plain", path) is True
    table = client.describe_table(TableName="plain")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert not table.get("GlobalSecondaryIndexes")
