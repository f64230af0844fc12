"""The shapes of credentials and how they are hashed. Pure: no I/O.

- Tenant API key (portal): ``tg_<tenant_id>.<key_id>.<secret>``
- License key (SDK):      ``tgk_<home_region>.<tenant_id>.<key_id>.<secret>``

The ids inside let the data layer fetch the one item by its key (no index, no scan); only the SHA-256 of
the whole string is stored. Secrets are 160 random bits, so a fast hash is enough (no password hashing).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import NamedTuple

from tollgate.core.limits import ID_BODY

API_KEY_PREFIX = "tg_"
LICENSE_KEY_PREFIX = "tgk_"
_ID = rf"[a-z]{{2,3}}_{ID_BODY}"  # the shape of the ids inside (tollgate.core.ids), nothing looser
_API_KEY = re.compile(rf"^tg_({_ID})\.({_ID})\.([0-9a-z]{{32}})$")
_LICENSE_KEY = re.compile(rf"^tgk_([a-z]{{2}}(?:-[a-z]+)+-\d)\.({_ID})\.({_ID})\.([0-9a-z]{{32}})$")


class ParsedApiKey(NamedTuple):  # NamedTuple, not a dataclass: see domain/tenancy.py
    tenant_id: str
    key_id: str
    secret_hash: str


class ParsedLicenseKey(NamedTuple):
    home_region: str
    tenant_id: str
    key_id: str
    secret_hash: str


def hash_secret(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


def same_hash(stored: str, presented: str) -> bool:
    return hmac.compare_digest(stored.encode(), presented.encode())


def format_api_key(tenant_id: str, key_id: str, secret: str) -> str:
    return f"{API_KEY_PREFIX}{tenant_id}.{key_id}.{secret}"


def format_license_key(home_region: str, tenant_id: str, key_id: str, secret: str) -> str:
    return f"{LICENSE_KEY_PREFIX}{home_region}.{tenant_id}.{key_id}.{secret}"


def display_prefix(credential: str) -> str:
    """What people see in listings: enough to recognise a key, useless to an attacker."""
    return credential[: credential.rindex(".") + 5] + "…"


def parse_api_key(credential: str) -> ParsedApiKey | None:
    match = _API_KEY.match(credential)
    if match is None:
        return None
    return ParsedApiKey(match.group(1), match.group(2), hash_secret(credential))


def parse_license_key(credential: str) -> ParsedLicenseKey | None:
    match = _LICENSE_KEY.match(credential)
    if match is None:
        return None
    return ParsedLicenseKey(match.group(1), match.group(2), match.group(3), hash_secret(credential))
