"""The address guard (SSRF), the endpoint URL rule and the retry schedule of webhooks."""

from __future__ import annotations

import ipaddress

import pytest

from tollgate.core.errors import InvalidField
from tollgate.events.guard import refusal
from tollgate.events.sender import WebhookSender
from tollgate.events.service_webhooks import (
    FIRST_RETRY_S,
    MAX_RETRY_S,
    RETRY_WINDOW_S,
    check_events,
    check_url,
    next_attempt,
    retry_delay_s,
)

REFUSED = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "169.254.169.254",  # the metadata address
    "169.254.1.1",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # the metadata address over IPv6
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "::127.0.0.1",  # IPv4-compatible loopback
    "2001:db8::1",  # documentation
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]


@pytest.mark.parametrize("text", REFUSED)
def test_private_loopback_link_local_multicast_and_metadata_addresses_are_refused(text: str) -> None:
    assert refusal(ipaddress.ip_address(text)) is not None


@pytest.mark.parametrize("text", ALLOWED)
def test_public_addresses_are_allowed(text: str) -> None:
    assert refusal(ipaddress.ip_address(text)) is None


def test_the_local_allowance_is_127_slash_8_only_never_ipv6_loopback_nor_a_mapped_one() -> None:
    assert refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal(ipaddress.ip_address("127.9.9.9"), allow_loopback=True) is None
    for text in ("::1", "::ffff:127.0.0.1", "10.0.0.1", "169.254.169.254", "fd00:ec2::254"):
        assert refusal(ipaddress.ip_address(text), allow_loopback=True) is not None, text


def resolver(*addresses: str):
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in addresses]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def test_a_name_is_refused_when_any_of_its_addresses_is_private() -> None:
    sender = WebhookSender(resolver=resolver("93.184.216.34", "10.0.0.1"))
    assert "private" in str(sender.vet("https://hooks.example.com/x"))


def test_a_name_resolving_to_the_metadata_address_is_refused_at_send_time() -> None:
    sender = WebhookSender(resolver=resolver("169.254.169.254"))
    result = sender.send("https://rebind.example.com/x", b"{}", {})
    assert result.status_code is None and result.error is not None and "metadata" in result.error


def test_a_public_name_is_resolved_once_and_pinned_to_the_vetted_address() -> None:
    resolve = resolver("93.184.216.34")
    sender = WebhookSender(resolver=resolve)
    assert sender.vet("https://hooks.example.com:8443/x") == (
        "hooks.example.com",
        ipaddress.ip_address("93.184.216.34"),
    )
    assert resolve.calls == ["hooks.example.com"]


def test_deployed_settings_refuse_http_and_loopback_even_by_name() -> None:
    sender = WebhookSender(resolver=resolver("127.0.0.1"))
    assert isinstance(sender.vet("http://127.0.0.1:9/x"), str)
    assert isinstance(sender.vet("https://localhost.example.com/x"), str)
    local = WebhookSender(allow_loopback=True, resolver=resolver("127.0.0.1", "::1"))
    assert isinstance(local.vet("http://localhost:9/x"), str)  # ::1 is outside the local allowance


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[fd00:ec2::254]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://metadata.internal/x",
        "https://2130706433/x",
        "https://0x7f.0.0.1/x",
        "https://user:pass@hooks.example.com/x",
        "https://hooks.example.com/x#frag",
        "https://hooks.example.com:0/x",
        "https://hooks.example.com:99999/x",
        "https:///x",
        "https://hooks .example.com/x",
        "https://hooks.example.com/\x00",
        "https://" + "a" * 2100 + ".com/",
        "",
    ],
)
def test_endpoint_urls_that_are_refused_at_creation(url: str) -> None:
    with pytest.raises(InvalidField) as refused:
        check_url(url, allow_loopback_http=False)
    assert refused.value.field == "url"


def test_endpoint_urls_that_are_accepted() -> None:
    for url in ("https://hooks.example.com/tollgate", "https://93.184.216.34:8443/x?y=1", "https://[2606:4700::1]/"):
        assert check_url(url, allow_loopback_http=False) == url
    assert check_url("http://127.0.0.1:3000/_local/webhooks/a", allow_loopback_http=True)
    with pytest.raises(InvalidField):
        check_url("http://[::1]:3000/x", allow_loopback_http=True)
    with pytest.raises(InvalidField):
        check_url("http://10.0.0.1/x", allow_loopback_http=True)


def test_events_are_a_non_empty_subset_of_the_known_types_or_the_wildcard_alone() -> None:
    assert check_events(["purchase.paid", "lot.expired"]) == ("purchase.paid", "lot.expired")
    assert check_events(["*"]) == ("*",)
    for bad in ([], ["purchase.paid", "purchase.paid"], ["*", "purchase.paid"], ["purchase.stolen"], ["webhook.test"]):
        with pytest.raises(InvalidField) as refused:
            check_events(bad)
        assert refused.value.field == "events"


def test_backoff_doubles_from_30_seconds_to_a_6_hour_ceiling_with_jitter_below_it() -> None:
    assert [retry_delay_s(n, lambda: 0.0) for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert retry_delay_s(30, lambda: 0.0) == MAX_RETRY_S
    for attempt in range(1, 40):
        ceiling = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** (attempt - 1))
        assert 0.75 * ceiling <= retry_delay_s(attempt, lambda: 0.999) <= ceiling


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_retries_go_on_for_at_least_three_days_then_stop(jitter: float) -> None:
    first = now = 1_800_000_000
    attempts = 1
    while (due := next_attempt(first, now, attempts, lambda: jitter)) is not None:
        assert due > now
        now, attempts = due, attempts + 1
    assert now - first >= RETRY_WINDOW_S  # the last attempt is at least three days after the first
    assert now - first < RETRY_WINDOW_S + MAX_RETRY_S
    assert 15 <= attempts <= 40
