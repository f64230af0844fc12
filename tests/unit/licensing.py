"""A small world for license-key tests: the real services on the moto table, a fixed clock, and a serving
region the test can move."""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.unit.conftest import FakePayments
from tollgate.core.clock import FixedClock
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Principal, Project
from tollgate.core.roles import Role
from tollgate.keys.rules_receipts import ReceiptSigner
from tollgate.keys.service import IssuedLicenseKey, LicenseKeyService, NewLicenseKey
from tollgate.keys.service_validation import ValidationRequest, ValidationResult, ValidationService, presented_key
from tollgate.tenancy.service import SignupRequest, TenantService

NOW = 1_800_000_000


def signing_key_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


class CountingClient:
    """Counts the DynamoDB requests a botocore client sends, with botocore's own event hook."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.operations: list[str] = []
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)


class Licensing:
    def __init__(self, client: Any) -> None:
        from tollgate.keys.store import DynamoLicenseKeyRepository
        from tollgate.keys.store_validation import DynamoLicenseKeyReader
        from tollgate.tenancy.store import DynamoTenantRepository
        from tollgate.tenancy.store_projects import DynamoProjectRepository

        self.clock = FixedClock(NOW)
        self.region = "eu-west-1"
        self.counter = CountingClient(client)
        self.reader = DynamoLicenseKeyReader(client, os.environ["TABLE_NAME"])
        self.tenants = TenantService(DynamoTenantRepository(), FakePayments(), self.clock, RANDOM_IDS, lambda: "p")
        self.tenant_repo = DynamoTenantRepository()
        self.projects = DynamoProjectRepository()
        self.keys = LicenseKeyService(
            DynamoLicenseKeyRepository(), self.reader, self.clock, RANDOM_IDS, serving_region=lambda: self.region
        )
        self.pem = signing_key_pem()
        self.signer = ReceiptSigner(lambda: self.pem)
        self.validation = ValidationService(self.reader, self.signer, self.clock, serving_region=lambda: self.region)

    def owner(self, name: str = "Acme") -> Principal:
        issued = self.tenants.sign_up(SignupRequest(name, f"ops@{name.lower()}.example", "eu-west-1"), None)
        return self.tenants.authenticate(issued.owner_key.secret)

    def with_role(self, owner: Principal, role: Role) -> Principal:
        return self.tenants.authenticate(self.tenants.create_api_key(owner, role.value, role).secret)

    def project(self, owner: Principal, name: str = "build farm") -> Project:
        project = Project(id=RANDOM_IDS.new_id("pj"), tenant_id=owner.tenant_id, name=name, created_at=NOW)
        self.projects.add(project)
        return project

    def issue(self, owner: Principal, **scope: Any) -> IssuedLicenseKey:
        scope.setdefault("name", "ci runner")
        scope.setdefault("regions", ("eu",))
        return self.keys.issue(owner, NewLicenseKey(**scope))

    def validate(self, secret: str, **request: Any) -> ValidationResult:
        return self.validation.validate(presented_key(secret), ValidationRequest(**request))
