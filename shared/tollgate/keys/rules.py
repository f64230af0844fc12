"""Where a license key may be used: AWS region names and named groups of them. Pure: no I/O.

A key stores the region scope exactly as it was given (``["eu", "us-east-1"]``); groups are expanded when
a call is checked, so a region that joins a group later is covered by every key that names the group.
docs/regions.md explains the groups and how a multi-region deployment uses them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tollgate.core.errors import InvalidField

REGION_NAME = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d$")

# AWS regions (commercial, GovCloud and China partitions) that a key may name one by one. A region AWS
# launches later is added here; until then a key can still reach it through its group.
KNOWN_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-1",
        "us-west-2",
    }
)

# Regions inside member states of the European Union (data-residency scope). London (eu-west-2) and
# Zurich (eu-central-2) carry AWS's "eu-" prefix but are outside the EU: they are in "europe", not "eu".
EU_MEMBER_STATE_REGIONS = frozenset(
    {"eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"}
)

ALL_REGIONS = "*"

# Prefix groups: a region belongs when its name starts with the prefix. "us" leaves GovCloud out (another
# partition, other customers); name "us-gov" for it.
_PREFIX_GROUPS: dict[str, tuple[str, ...]] = {
    "europe": ("eu-",),
    "us": ("us-east-", "us-west-"),
    "us-gov": ("us-gov-",),
    "americas": ("us-east-", "us-west-", "ca-", "sa-", "mx-"),
    "ap": ("ap-",),
    "ca": ("ca-",),
    "sa": ("sa-",),
    "mx": ("mx-",),
    "me": ("me-", "il-"),
    "af": ("af-",),
    "cn": ("cn-",),
}

GROUPS = frozenset({ALL_REGIONS, "eu", *_PREFIX_GROUPS})


def in_group(group: str, region: str) -> bool:
    if group == ALL_REGIONS:
        return True
    if group == "eu":
        return region in EU_MEMBER_STATE_REGIONS
    return region.startswith(_PREFIX_GROUPS.get(group, ()))


def allows(scope: Iterable[str], region: str) -> bool:
    """Whether a key whose region scope is ``scope`` may be used in ``region`` (a loop, not ``any()`` over a
    generator: it runs on every validation)."""
    for entry in scope:  # noqa: SIM110 - see the docstring
        if entry == region or (entry in GROUPS and in_group(entry, region)):
            return True
    return False


def expand(scope: Iterable[str]) -> frozenset[str]:
    """The known regions a scope covers today (for people; checks use ``allows``)."""
    return frozenset(region for region in KNOWN_REGIONS if allows(scope, region))


def validate_scope(field: str, scope: object) -> tuple[str, ...]:
    """A key's region scope from a request: a non-empty list of region names or group names."""
    if not isinstance(scope, list) or not scope:
        raise InvalidField(field, "must be a non-empty list of AWS region names or region groups")
    if len(scope) > 50:
        raise InvalidField(field, "at most 50 entries")
    for entry in scope:
        if not isinstance(entry, str) or (entry not in KNOWN_REGIONS and entry not in GROUPS):
            shown = entry if isinstance(entry, str) and len(entry) <= 40 else "an entry"
            raise InvalidField(
                field,
                f"{shown} is neither an AWS region name (e.g. eu-west-1) nor a region group "
                f"({', '.join(sorted(GROUPS))})",
            )
    return tuple(dict.fromkeys(scope))


def is_region_name(value: str) -> bool:
    return bool(REGION_NAME.match(value))
