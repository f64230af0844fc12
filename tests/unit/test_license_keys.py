"""License keys end to end through the real data layer on moto: every validation code, the one-request
read, rotation, roles, field checks, and that no secret is stored in clear."""

from __future__ import annotations

import os

import pytest

from tests.unit.conftest import _SESSION, raw_items
from tests.unit.licensing import NOW, Licensing
from tollgate.core.errors import (
    Conflict,
    InvalidField,
    NotFound,
    RegionNotAllowed,
    TenantSuspended,
    Unauthenticated,
)
from tollgate.core.models import TenantStatus
from tollgate.keys.rules_receipts import verify_receipt
from tollgate.keys.service import NewLicenseKey
from tollgate.keys.service_validation import Code
from tollgate.tenancy.rules import format_license_key


@pytest.fixture
def world(table: str) -> Licensing:
    return Licensing(_SESSION.client("dynamodb", region_name=os.environ["AWS_REGION"]))


def test_issued_key_validates_and_authenticates(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner, features=("build",))
    assert issued.secret.startswith(f"tgk_eu-west-1.{owner.tenant_id}.{issued.key.id}.")
    result = world.validate(issued.secret, feature="build", region="eu-central-1")
    assert (result.code, result.valid) == (Code.VALID, True)
    assert result.key is not None
    assert result.key.id == issued.key.id
    caller = world.keys.authenticate(issued.secret, client_region="eu-west-3")
    assert caller.tenant_id == owner.tenant_id
    assert caller.license_key is not None
    assert caller.license_key.features == ("build",)


def test_validation_is_exactly_one_dynamodb_request(world: Licensing) -> None:
    owner = world.owner()
    project = world.project(owner)
    issued = world.issue(owner, project_id=project.id)
    world.counter.operations.clear()
    world.validate(issued.secret, feature="build", project=project.id)
    world.validate(issued.secret)
    world.keys.authenticate(issued.secret)
    assert world.counter.operations == ["BatchGetItem", "BatchGetItem", "BatchGetItem"]


def test_revoked_key(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner)
    revoked = world.keys.revoke(owner, issued.key.id)
    assert revoked.revoked_at == NOW
    assert world.validate(issued.secret).code is Code.REVOKED
    with pytest.raises(Unauthenticated):
        world.keys.authenticate(issued.secret)
    with pytest.raises(NotFound):
        world.keys.revoke(owner, "lk_0000000000000000")


def test_expired_key_is_refused_when_read(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner, expires_at="2027-01-15T10:00:00+01:00")  # NOW + 1 h (NOW is 08:00Z)
    assert issued.key.expires_at is not None
    world.clock.advance(issued.key.expires_at - NOW - 1)
    assert world.validate(issued.secret).code is Code.VALID
    world.clock.advance(1)
    assert world.validate(issued.secret).code is Code.EXPIRED
    with pytest.raises(Unauthenticated):
        world.keys.authenticate(issued.secret)


def test_suspended_tenant(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner)
    world.tenant_repo.set_status(owner.tenant_id, TenantStatus.SUSPENDED)
    assert world.validate(issued.secret).code is Code.SUSPENDED
    with pytest.raises(TenantSuspended):
        world.keys.authenticate(issued.secret)
    world.tenant_repo.set_status(owner.tenant_id, TenantStatus.ACTIVE)
    assert world.validate(issued.secret).code is Code.VALID


def test_key_used_outside_its_regions(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner, regions=("eu", "us-east-1"))
    # the client says where it runs: London is in Europe but not in the EU group
    assert world.validate(issued.secret, region="eu-west-2").code is Code.REGION_NOT_ALLOWED
    assert world.validate(issued.secret, region="us-east-1").code is Code.VALID
    with pytest.raises(RegionNotAllowed) as refused:
        world.keys.authenticate(issued.secret, client_region="ap-south-1")
    assert refused.value.code == "REGION_NOT_ALLOWED"
    # the serving deployment's own region
    world.region = "ap-southeast-2"
    assert world.validate(issued.secret).code is Code.REGION_NOT_ALLOWED
    assert world.validate(issued.secret, region="eu-west-1").code is Code.REGION_NOT_ALLOWED
    world.region = "us-east-1"
    assert world.validate(issued.secret).code is Code.VALID


def test_feature_outside_the_keys_scope(world: Licensing) -> None:
    owner = world.owner()
    scoped = world.issue(owner, features=("build", "test"))
    unscoped = world.issue(owner)
    assert world.validate(scoped.secret, feature="deploy").code is Code.FEATURE_NOT_ENTITLED
    assert world.validate(scoped.secret, feature="test").code is Code.VALID
    assert world.validate(unscoped.secret, feature="deploy").code is Code.VALID


def test_project_not_allowed(world: Licensing) -> None:
    owner = world.owner()
    mine, other = world.project(owner, "mine"), world.project(owner, "other")
    scoped = world.issue(owner, project_id=mine.id)
    unscoped = world.issue(owner)
    assert world.validate(scoped.secret, project=mine.id).code is Code.VALID
    assert world.validate(scoped.secret, project=other.id).code is Code.PROJECT_NOT_ALLOWED
    assert world.validate(unscoped.secret, project=other.id).code is Code.VALID
    assert world.validate(unscoped.secret, project="pj_0000000000000000").code is Code.PROJECT_NOT_ALLOWED
    # another tenant's project is no project of this tenant
    stranger = world.project(world.owner("Globex"))
    assert world.validate(unscoped.secret, project=stranger.id).code is Code.PROJECT_NOT_ALLOWED


def test_key_id_under_another_tenant_is_not_found_and_tells_nothing(world: Licensing) -> None:
    acme, globex = world.owner("Acme"), world.owner("Globex")
    issued = world.issue(acme)
    secret = issued.secret.rsplit(".", 1)[1]
    swapped = format_license_key("eu-west-1", globex.tenant_id, issued.key.id, secret)
    result = world.validate(swapped)
    assert (result.code, result.key) == (Code.NOT_FOUND, None)
    assert result.claims["tenant_id"] == globex.tenant_id
    assert acme.tenant_id not in repr(result)
    with pytest.raises(Unauthenticated):
        world.keys.authenticate(swapped)
    with pytest.raises(NotFound):
        world.keys.revoke(globex, issued.key.id)  # nor can the other tenant's admin touch it
    assert world.validate(issued.secret).code is Code.VALID


def test_unknown_tenant_or_key_or_wrong_secret_is_not_found(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner)
    head, _ = issued.secret.rsplit(".", 1)
    assert world.validate(f"{head}.{'a' * 32}").code is Code.NOT_FOUND
    assert world.validate(format_license_key("eu-west-1", "tn_0000000000000000", issued.key.id, "a" * 32)).code is (
        Code.NOT_FOUND
    )
    assert world.validate(format_license_key("eu-west-1", owner.tenant_id, "lk_0000000000000000", "a" * 32)).code is (
        Code.NOT_FOUND
    )


def test_rotate_keeps_id_and_scope_and_kills_the_old_secret(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner, features=("build",), regions=("eu-west-1", "us"))
    world.clock.advance(60)
    rotated = world.keys.rotate(owner, issued.key.id)
    assert rotated.secret != issued.secret
    assert rotated.key.id == issued.key.id
    assert (rotated.key.regions, rotated.key.features) == (issued.key.regions, issued.key.features)
    assert rotated.key.rotated_at == NOW + 60
    assert world.validate(issued.secret).code is Code.NOT_FOUND
    assert world.validate(rotated.secret).code is Code.VALID
    world.keys.revoke(owner, issued.key.id)
    with pytest.raises(Conflict):
        world.keys.rotate(owner, issued.key.id)
    with pytest.raises(NotFound):
        world.keys.rotate(owner, "lk_0000000000000000")


def test_secrets_are_not_stored_in_clear(world: Licensing, table: str) -> None:
    owner = world.owner()
    first = world.issue(owner)
    rotated = world.keys.rotate(owner, first.key.id)
    second = world.issue(owner, name="laptop")
    dump = repr(raw_items(table))
    for plain in (first.secret, rotated.secret, second.secret):
        assert plain not in dump
        assert plain.rsplit(".", 1)[1] not in dump
    listed = world.keys.list(owner)
    assert {key.id for key in listed} == {first.key.id, second.key.id}
    assert all(key.display.endswith("…") and len(key.display) < len(first.secret) for key in listed)


# Who may issue, list, revoke and rotate license keys is stated once, at each route, and proven through the
# handlers for every role (test_portal_authorisation.py) and for license keys (test_routes.py).


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ({"regions": ()}, "regions"),
        ({"regions": ("eu-wset-1",)}, "regions"),
        ({"regions": ("mars",)}, "regions"),
        ({"name": " "}, "name"),
        ({"features": ()}, "features"),
        ({"features": ("Build Everything!",)}, "features"),
        ({"project_id": "not-a-project"}, "project_id"),
        ({"environment": "prod env"}, "environment"),
    ],
)
def test_new_key_fields_are_checked(scope: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"name": "ci", "regions": ("eu",), **scope}
    with pytest.raises(InvalidField) as error:
        NewLicenseKey(**values)  # type: ignore[arg-type]
    assert error.value.field == field


@pytest.mark.parametrize(
    "expires_at", ["2020-01-01T00:00:00Z", "2030-01-01T00:00:00", "next tuesday", "2027-13-01T00:00:00Z"]
)
def test_expiry_must_be_a_future_instant_with_an_offset(world: Licensing, expires_at: str) -> None:
    owner = world.owner()
    with pytest.raises(InvalidField) as error:
        world.issue(owner, expires_at=expires_at)
    assert error.value.field == "expires_at"


def test_project_must_be_the_tenants_own(world: Licensing) -> None:
    owner, other = world.owner("Acme"), world.owner("Globex")
    foreign = world.project(other)
    with pytest.raises(InvalidField) as error:
        world.issue(owner, project_id=foreign.id)
    assert error.value.field == "project_id"
    assert world.issue(owner, project_id=world.project(owner).id).key.project_id is not None


def test_receipt_states_the_result_and_verifies_offline(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner)
    world.keys.revoke(owner, issued.key.id)
    result = world.validate(issued.secret, feature="build", fingerprint="host-1", region="eu-west-1")
    claims = verify_receipt(result.receipt, world.signer.jwks(), now=NOW)
    assert claims["code"] == "REVOKED"
    assert claims["valid"] is False
    assert (claims["key_id"], claims["tenant_id"]) == (issued.key.id, owner.tenant_id)
    assert (claims["feature"], claims["fingerprint"], claims["region"]) == ("build", "host-1", "eu-west-1")
    assert claims["exp"] - claims["iat"] == 300


def test_receipt_of_a_key_expiring_soon_ends_with_the_key(world: Licensing) -> None:
    owner = world.owner()
    issued = world.issue(owner, expires_at="2027-01-15T09:00:00Z")
    assert issued.key.expires_at is not None
    world.clock.advance(issued.key.expires_at - NOW - 10)
    claims = world.validate(issued.secret).claims
    assert claims["exp"] == issued.key.expires_at


def test_winding_down_takes_a_revoked_expired_or_suspended_key_but_never_a_wrong_secret(world: Licensing) -> None:
    """A check-in, a report or a cancel is never refused for what stops spending (SPEC.md, "Spending: one
    pipeline"); the secret must still be right."""
    owner = world.owner()
    suspended, revoked = world.issue(owner), world.issue(owner)
    expiring = world.issue(owner, expires_at="2027-01-15T10:00:00+01:00")
    world.keys.revoke(owner, revoked.key.id)
    assert expiring.key.expires_at is not None
    world.clock.advance(expiring.key.expires_at - NOW)
    world.tenant_repo.set_status(owner.tenant_id, TenantStatus.SUSPENDED)
    for issued in (suspended, revoked, expiring):
        with pytest.raises((Unauthenticated, TenantSuspended)):
            world.keys.authenticate(issued.secret)
        caller = world.keys.authenticate_to_wind_down(issued.secret)
        assert (caller.tenant_id, caller.key_id) == (owner.tenant_id, issued.key.id)
        assert caller.tenant.status is TenantStatus.SUSPENDED  # the spending pipeline refuses it at step 2
    head, _ = suspended.secret.rsplit(".", 1)
    with pytest.raises(Unauthenticated):
        world.keys.authenticate_to_wind_down(f"{head}.{'a' * 32}")
    rotated = world.keys.rotate(owner, suspended.key.id)
    assert world.keys.authenticate_to_wind_down(rotated.secret).key_id == suspended.key.id
    with pytest.raises(Unauthenticated):
        world.keys.authenticate_to_wind_down(suspended.secret)  # the old secret is gone
