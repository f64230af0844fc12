"""A world for the lease, lot-expiry and sweeper unit tests: the real services and data layer on moto."""

from __future__ import annotations

from tests.unit.conftest import FakePayments
from tollgate.core.clock import FixedClock
from tollgate.core.ids import RANDOM_IDS
from tollgate.core.models import Feature, LicenseKey, Principal
from tollgate.holds.service_leases import LeaseService
from tollgate.pool.service import PoolService
from tollgate.pool.service_sweeper import SweeperService
from tollgate.tenancy.service import SignupRequest, TenantService

NOW = 1_800_000_000
HOUR = 3600
DAY = 86400
COST_PER_HOUR = 10  # feature "build"
COST_PER_USE = 3


class LeaseWorld:
    def __init__(self) -> None:
        from tollgate.holds.store import DynamoLeaseRepository
        from tollgate.pool.store import DynamoPoolRepository
        from tollgate.pool.store_expiry import DynamoDueIndex, DynamoExpiry
        from tollgate.purchases.store_catalog import DynamoCatalogRepository
        from tollgate.tenancy.store import DynamoTenantRepository

        self.clock = FixedClock(NOW)
        self.tenants = TenantService(DynamoTenantRepository(), FakePayments(), self.clock, RANDOM_IDS, lambda: "p")
        self.catalog = DynamoCatalogRepository(self.clock)
        self.catalog.put_feature(Feature("build", cost_per_use=COST_PER_USE, cost_per_hour=COST_PER_HOUR))
        self.catalog.put_feature(Feature("deploy", cost_per_use=1, cost_per_hour=5))
        self.repo = DynamoPoolRepository()
        self.expiry = DynamoExpiry(self.clock, RANDOM_IDS)
        self.pool = PoolService(self.repo, self.catalog, self.clock, RANDOM_IDS, settler=self.expiry)
        self.leases = LeaseService(DynamoLeaseRepository(), self.catalog, self.clock, RANDOM_IDS, settler=self.expiry)
        self.sweeper = SweeperService(DynamoDueIndex(), self.leases, self.expiry, self.clock, page_size=50)

    def tenant(self, tokens: int = 0) -> Principal:
        issued = self.tenants.sign_up(SignupRequest("Acme", "a@acme.example", "eu-west-1"), None).owner_key
        if tokens:
            self.pool.grant(issued.key.tenant_id, tokens, "test credit", "operator:test")
        return self.tenants.authenticate(issued.secret)

    def license(self, caller: Principal, features: tuple[str, ...] | None = None) -> Principal:
        key = LicenseKey("lk_x", caller.tenant_id, "k", "d", "h", ("eu-west-1",), NOW, features=features)
        return Principal(tenant=caller.tenant, key_id=key.id, license_key=key)

    def ledger(self, caller: Principal) -> list[tuple[str, int]]:
        page = self.pool.ledger(caller, None, 200)
        assert page.cursor is None
        return [(e.kind.value, e.amount) for e in page.entries]

    def assert_consistent(self, caller: Principal) -> None:
        """The ledger explains the balance, and available = balance − reserved."""
        pool = self.repo.pool(caller.tenant_id)
        assert sum(amount for _, amount in self.ledger(caller)) == pool.balance
        from tollgate.kernel import keys
        from tollgate.kernel.items import TenantItem

        item = TenantItem.get(keys.tenant_pk(caller.tenant_id), keys.TENANT_SK, consistent_read=True)
        assert int(item.available) == pool.balance - pool.reserved
