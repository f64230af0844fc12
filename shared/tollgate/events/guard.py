"""The address guard: which addresses a webhook may be delivered to (SSRF protection).

A delivery goes only to public unicast addresses. Refused: private (RFC 1918, unique-local fc00::/7, which
holds the metadata address fd00:ec2::254), loopback, link-local (169.254.0.0/16 with the metadata address
169.254.169.254, fe80::/10), multicast, unspecified, reserved, shared address space (100.64.0.0/10),
documentation and benchmarking ranges: in short, anything Python's ``ipaddress`` does not call global. An
IPv6 address that carries an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible, NAT64
``64:ff9b::/96``, 6to4, Teredo) is judged by the IPv4 address it carries as well.

The local stack alone (``allow_loopback``) may also deliver to 127.0.0.0/8, written as such: never to ``::1``
nor to an IPv4-mapped loopback. Pure: no DNS here; ``tollgate.events.sender`` resolves and asks.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (deprecated, still routable)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a delivery may not go to ``address``, or None when it may."""
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if isinstance(address, ipaddress.IPv4Address) and address in _LOOPBACK_V4:
        return None if allow_loopback else "a loopback address"
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return "a local-use NAT64 address"
        carried = embedded_ipv4(address)
        if carried is not None:
            why = refusal(carried)  # never the loopback allowance through a wrapper
            if why is not None:
                return f"an IPv6 address carrying {why}"
        if address.scope_id:
            return "a scoped IPv6 address"
    for test, why in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
    ):
        if test:
            return why
    if not address.is_global:
        return "not a public address"
    return None


def parse_literal(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is written as one (``[v6]`` brackets allowed), else None."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
