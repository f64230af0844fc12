"""Typed results everywhere: every public call answers a dataclass (never a dict), and every time in a result
is a timezone-aware UTC ``datetime`` (receipt times were epoch seconds in 0.1). The 0.1 dict reading of a
record still answers, with a ``DeprecationWarning``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sdk_fakes import FakeClock, FakeTransport, Sent, Signer, answer, client

import tollgate_sdk as sdk
from tollgate_sdk.transport import HttpResponse

UTC = timezone.utc
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
T = "2027-01-15T08:10:00Z"
AT = datetime(2027, 1, 15, 8, 10, tzinfo=UTC)
T_END = "2027-01-15T08:05:00Z"

LEASE = {
    "id": "ls_1",
    "feature": "build",
    "status": "open",
    "started_at": "2027-01-15T08:00:00Z",
    "expires_at": T,
    "heartbeat_interval_s": 20,
    "cost_per_hour": 10,
    "reserved": 10,
    "charged": None,
    "ended_at": None,
    "project_id": None,
    "added_by_a_newer_server": True,
}
ALLOWANCE = {
    "id": "al_1",
    "feature": "build",
    "status": "open",
    "cost_per_use": 1,
    "block": 10,
    "held": 10,
    "used": 0,
    "charged": 0,
    "opened_at": "2027-01-15T08:00:00Z",
    "expires_at": T,
    "ttl_s": 600,
    "project_id": "pj_1",
}
ACTION = {
    "id": "act_1",
    "action": "deploy",
    "status": "approved",
    "rule_id": "prod",
    "policy_version": 3,
    "requester": "license_key:lk_1",
    "feature": "build",
    "quantity": 2,
    "tokens": 2,
    "held": 2,
    "charged": None,
    "attributes": {"ticket": "OPS-1"},
    "quorum": 1,
    "approvals": 1,
    "reviews": [{"key_id": "ak_1", "role": "approver", "decision": "approve", "comment": None, "at": NOW + 60}],
    "break_glass": False,
    "created_at": "2027-01-15T08:00:00Z",
    "expires_at": T,
    "escalates_at": None,
    "grant_expires_at": "2027-01-15T09:00:00+01:00",  # an offset: read as the same instant in UTC
    "resolved_at": "2027-01-15T08:01:00Z",
}


class Service:
    """Answers every SDK route with the documents above."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.signer = Signer()

    def __call__(self, sent: Sent) -> HttpResponse | Exception:
        path = sent.url.split("tollgate.test")[1]
        if path.endswith("jwks.json"):
            return answer(200, self.signer.jwks())
        if path == "/v1/validate":
            receipt = self.signer.receipt(self.clock.now(), **sent.body)
            return answer(200, {"valid": True, "code": "VALID", "receipt": receipt})
        if path == "/v1/consume":
            body = {"charged": 2, "entry_id": "le_1"}
            return answer(200, {**body, "action_id": "act_1"} if "action_id" in sent.body else body)
        if path.startswith("/v1/leases"):
            if sent.method == "DELETE":
                return answer(200, {"lease": {**LEASE, "status": "closed", "charged": 10, "ended_at": T_END}})
            return answer(201, {"lease": LEASE})
        if path.startswith("/v1/allowances"):
            if path.endswith("/settle"):
                settled = {"status": "settled", "held": 0, "used": int(sent.body["used"])}
                return answer(200, {"allowance": {**ALLOWANCE, **settled}})
            return answer(201, {"allowance": ALLOWANCE})
        if path.startswith("/v1/actions"):
            return answer(201, {"action": ACTION})
        raise AssertionError(path)


def tollgate() -> sdk.Tollgate:
    clock = FakeClock(now=float(NOW))
    return client(FakeTransport(clock, handler=Service(clock)), clock)


def aware_utc(value: Any) -> bool:
    return isinstance(value, datetime) and value.utcoffset() == timedelta(0)


def test_parse_time_reads_every_form_the_service_may_send_as_aware_utc() -> None:
    assert sdk.parse_time("2027-01-15T08:10:00Z") == AT
    assert sdk.parse_time("2027-01-15T09:10:00+01:00") == AT
    assert sdk.parse_time("2027-01-15T08:10:00") == AT  # the API's times are UTC
    assert sdk.parse_time(NOW + 600) == AT
    assert sdk.parse_time(None) is None
    for value in ("2027-01-15T09:10:00+01:00", NOW, "2027-01-15T08:10:00"):
        assert aware_utc(sdk.parse_time(value))
    for bad in ("next tuesday", True, [1]):
        with pytest.raises(sdk.APIError):
            sdk.parse_time(bad)


def test_validation_times_are_datetimes() -> None:
    checked = tollgate().validate(feature="build")
    assert isinstance(checked, sdk.Validation)
    assert checked.issued_at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)  # before: 1800000000
    assert checked.expires_at == checked.issued_at + timedelta(seconds=300)
    assert aware_utc(checked.receipt.issued_at) and aware_utc(checked.receipt.expires_at)
    assert (checked.receipt.iat, checked.receipt.exp) == (NOW, NOW + 300)  # the signed claims, as signed


def test_consume_and_redeem_answer_typed_results() -> None:
    tg = tollgate()
    spent = tg.consume("build", 2)
    assert isinstance(spent, sdk.Consumption) and (spent.charged, spent.entry_id) == (2, "le_1")
    action = tg.request_action("deploy", feature="build", quantity=2)
    redeemed = action.redeem()
    assert isinstance(redeemed, sdk.Redemption)  # before: a dict
    assert (redeemed.action_id, redeemed.charged, redeemed.entry_id) == ("act_1", 2, "le_1")
    assert redeemed.idempotency_key and redeemed.balance_after is None


def test_an_action_record_is_typed_with_datetimes() -> None:
    record = tollgate().request_action("deploy", feature="build", quantity=2).view
    assert isinstance(record, sdk.ActionRecord)
    assert (record.status, record.rule_id, record.policy_version, record.quorum) == ("approved", "prod", 3, 1)
    assert record.expires_at == AT and record.grant_expires_at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert record.escalates_at is None
    [review] = record.reviews
    assert isinstance(review, sdk.Review) and review.at == datetime(2027, 1, 15, 8, 1, tzinfo=UTC)
    assert dict(record.attributes) == {"ticket": "OPS-1"}


def test_lease_and_allowance_records_are_typed_with_datetimes() -> None:
    tg = tollgate()
    with tg.lease("build", 600, heartbeat_interval_s=3600) as lease:
        assert isinstance(lease.record, sdk.LeaseRecord)
        assert lease.expires_at == AT and lease.record.started_at == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    assert (lease.record.status, lease.charged) == ("closed", 10)
    assert lease.record.ended_at == datetime(2027, 1, 15, 8, 5, tzinfo=UTC)
    with tg.allowance("build", block=10) as allowance:
        assert isinstance(allowance.record, sdk.AllowanceRecord)
        assert (allowance.record.held, allowance.record.expires_at) == (10, AT)
        allowance.spend(3)
    assert (allowance.record.status, allowance.record.used) == ("settled", 3)


def test_the_0_1_dict_reading_still_answers_with_a_deprecation_warning() -> None:
    record = sdk.LeaseRecord.from_api(LEASE)
    with pytest.warns(DeprecationWarning, match="read the attribute"):
        assert record["heartbeat_interval_s"] == 20
    with pytest.warns(DeprecationWarning, match="read the attribute"):
        assert record.get("charged") is None
    assert record.raw["added_by_a_newer_server"] is True  # a newer server's fields are kept, not refused


def test_every_time_in_a_result_is_a_datetime() -> None:
    """Every field or property named ``*_at`` of a public result, or of a lease, allowance or action, is
    annotated as a datetime (read as written: the SDK's annotations are strings, Python 3.9 included)."""
    results = (
        sdk.Validation,
        sdk.Receipt,
        sdk.Consumption,
        sdk.Redemption,
        sdk.LeaseRecord,
        sdk.AllowanceRecord,
        sdk.ActionRecord,
        sdk.Review,
        sdk.Lease,
        sdk.Allowance,
        sdk.ActionRequest,
    )
    checked = 0
    for result in results:
        fields: dict[str, Any] = {}
        for klass in reversed(result.__mro__):
            fields.update(getattr(klass, "__annotations__", {}))
        for name in dir(result):
            if not name.endswith("_at") or name.startswith("_"):
                continue
            attribute = getattr(result, name, None)
            written = attribute.fget.__annotations__["return"] if isinstance(attribute, property) else fields[name]
            assert "datetime" in str(written), (result.__name__, name, written)
            checked += 1
    assert checked >= 15
