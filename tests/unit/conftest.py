"""Unit tests run the real data layer against moto in-process (one thread), on a table built from the
SAM template's own definition, so tests cannot drift from the infrastructure."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tests.conftest import TEMPLATE

_SESSION = boto3.Session()


@pytest.fixture
def table() -> Iterator[str]:
    from infra.local.tables import create_table

    with mock_aws():
        client = _SESSION.client("dynamodb", region_name=os.environ["AWS_REGION"])
        create_table(client, os.environ["TABLE_NAME"], TEMPLATE)
        yield os.environ["TABLE_NAME"]


def raw_items(table_name: str) -> list[dict]:
    client = _SESSION.client("dynamodb", region_name=os.environ["AWS_REGION"])
    items: list[dict] = []
    for page in client.get_paginator("scan").paginate(TableName=table_name):
        items.extend(page["Items"])
    return items


class FakePayments:
    """Stands in for Stripe in unit tests: hands out customer ids, remembers idempotency keys."""

    def __init__(self) -> None:
        self.customers: dict[str, str] = {}

    def create_customer(self, tenant_id: str, name: str, email: str, idempotency_key: str) -> str:
        return self.customers.setdefault(idempotency_key, f"cus_{len(self.customers) + 1:014d}")
