"""Every bound the API enforces on input, declared once beside the field it bounds.

The portal's and signup's pydantic models read these, and so does the hot path's small parser
(``tollgate.edge.requests``), so a bound is never a number in a handler and another in a model. This
module imports nothing heavy: the validation function loads it on its cold start.
"""

from __future__ import annotations

import re
from functools import cache

# Bodies
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32  # a body nested deeper is a 400

# Token amounts, budgets and quantities are integers in 0…10^15.
MAX_TOKENS = 10**15
MAX_PURCHASE_QUANTITY = 1000  # packs per purchase
MAX_CONSUME_QUANTITY = MAX_TOKENS

# Time
MAX_VALID_DAYS = 3650
MIN_TIMESTAMP = 946_684_800  # 2000-01-01T00:00:00Z
MAX_FUTURE_S = 3653 * 86_400  # ten years (with leap days) ahead of the clock
MAX_LEASE_S = 24 * 3600  # a lease's duration, and any extension; no lease outlives this after its start

# Text
NAME_MAX = 100
TENANT_NAME_MAX = 200
EMAIL_MAX = 254
REASON_MAX = 500
PO_NUMBER_MAX = 100
FEATURE_MAX = 64
ENVIRONMENT_MAX = 64
REGION_MAX = 32
FINGERPRINT_MAX = 256
MAX_LIST_ITEMS = 50
MAX_FEATURES = 100

# Policies (SPEC.md, "Approvals")
MAX_POLICY_RULES = 100
RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
ACTION_PATTERN = r"^[A-Za-z0-9*][A-Za-z0-9_.:*-]{0,63}$"  # an action name; in a rule, `*` globs
ACTION_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"  # a requested action: no `*`
DESCRIPTION_MAX = 500
CONDITION_MAX = 2000
MAX_CONDITION_COST = 1000  # estimated steps of one CEL condition (tollgate.approvals.rules_conditions)
MAX_POLICY_CONDITION_COST = 10_000  # of all a policy's conditions together: a few milliseconds at most
MAX_MATCH_VALUES = 50  # values in one match list (actions, features, projects…)
MAX_POLICY_GLOBS = 200  # action patterns with `*` in one policy: each is matched on every request (~1 µs)
MAX_PRINCIPALS = 50  # roles and key ids in one approvers, escalate_to or break_glass set
MAX_QUORUM = 20
MIN_APPROVAL_TIMEOUT_S = 60
MAX_APPROVAL_TIMEOUT_S = 30 * 86_400
MAX_GRANT_TTL_S = 7 * 86_400
TIME_OF_DAY_PATTERN = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"
TIMEZONE_MAX = 64
MAX_ATTRIBUTES = 20  # an action's attributes: flat, short
ATTRIBUTE_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
ATTRIBUTE_VALUE_MAX = 256

# Headers and query strings
IDEMPOTENCY_KEY_MAX = 255
SIGNUP_IDEMPOTENCY_KEY_MIN = 32  # unauthenticated: the key is the only proof a replay is the first caller
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 200
PAGE_LIMIT_PATTERN = r"^(?:[1-9][0-9]?|1[0-9]{2}|200)$"  # 1…PAGE_LIMIT_MAX in plain ASCII digits, as a schema
CURSOR_MAX = 1024
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # a UTC day; whether it exists is the domain's check
GRANULARITY_PATTERN = r"^(day|month)$"
GROUP_BY_PATTERN = r"^(feature|project|key)(,(feature|project|key)){0,2}$"
GROUP_BY_MAX = 24
ACCEPT_MAX = 1024
USAGE_RANGE_DAYS_MAX = 366  # days one usage report covers at most
IF_MATCH_PATTERN = r'^(?:W/)?"?[0-9]{1,15}"?$'  # a policy version as an ETag: "3" (or 3)

# Ids: ``<prefix>_<16 Crockford base32 chars>`` (tollgate.core.ids). A path id of another shape is a 404.
ID_BODY = "[0-9a-hjkmnp-tv-z]{16}"
ID_MAX = 40

# Control characters (C0, DEL, C1) are refused in names, e-mails, reasons and other free text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same rule as a JSON Schema pattern (models, OpenAPI): no control character, at least one visible one.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"
FEATURE_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"
ENVIRONMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
PACK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"
PROJECT_ID_PATTERN = r"^[a-z]{2,3}_[0-9a-z]{16}$"


@cache
def id_pattern(prefix: str) -> re.Pattern[str]:
    """The shape of an id of one kind, e.g. ``id_pattern("pr")`` for projects (compiled once per kind:
    ``re.compile``'s own cache is a few Python calls per lookup, on the validation path)."""
    return re.compile(f"{prefix}_{ID_BODY}")


def is_id(value: str, prefix: str) -> bool:
    return len(value) <= ID_MAX and id_pattern(prefix).fullmatch(value) is not None


# What each pattern means, for people: a refusal says this, never the regex itself.
PATTERN_MEANINGS: dict[str, str] = {
    TEXT_PATTERN: "must be text with at least one visible character and no control characters",
    r"^[^\x00-\x1f\x7f-\x9f]*$": "must not contain control characters",
    EMAIL_PATTERN: "must be an e-mail address (name@example.com)",
    REGION_PATTERN: "must be an AWS region name, such as eu-west-1",
    r"[a-z]{2}(?:-[a-z]+)+-\d": "must be an AWS region name, such as eu-west-1",
    FEATURE_PATTERN: "must be a feature id: lower-case letters, digits and _ . : - (up to 64), such as build",
    ENVIRONMENT_PATTERN: "must be an environment name: letters, digits and _ . - (up to 64), such as production",
    PACK_PATTERN: "must be a pack id from the catalog, such as starter",
    PROJECT_ID_PATTERN: "must be a project id, such as pr_0123456789abcdef",
    IDEMPOTENCY_KEY_PATTERN: "must be printable ASCII without spaces (a UUID, say)",
    PAGE_LIMIT_PATTERN: f"must be a whole number from 1 to {PAGE_LIMIT_MAX}, in plain digits",
    DAY_PATTERN: "must be a UTC day as YYYY-MM-DD",
    GROUP_BY_PATTERN: "must be feature, project or key, comma-separated",
    IF_MATCH_PATTERN: 'must be the policy\'s version as its ETag gives it, such as "3"',
    RULE_ID_PATTERN: "must be a rule id: a letter or digit, then letters, digits and _ . : - (up to 64)",
    ACTION_PATTERN: "must be an action name: letters, digits and _ . : - (up to 64); * matches any run",
    ACTION_NAME_PATTERN: "must be an action name: a letter or digit, then letters, digits and _ . : - (up to 64)",
    ATTRIBUTE_KEY_PATTERN: "must be an attribute name: a letter or _, then letters, digits and _ (up to 64)",
    TIME_OF_DAY_PATTERN: "must be a time of day as HH:MM (00:00 to 23:59)",
    r"^https?://": "must be an https:// address",
}
_CHOICES = r"^\^\(([a-z0-9_|]+)\)\$$"  # compiled on first use: this module is on the validation path
_ID = r"^\^(?:\(\?:)?([a-z|]+)\)?_"


def pattern_meaning(pattern: str) -> str:
    """What a value must look like to match ``pattern``, in words (never the regex)."""
    if pattern in PATTERN_MEANINGS:
        return PATTERN_MEANINGS[pattern]
    choices = re.match(_CHOICES, pattern)
    if choices:
        return "must be one of: " + ", ".join(choices.group(1).split("|"))
    if pattern.endswith(ID_BODY + "$") and (prefix := re.match(_ID, pattern)):
        return "must be an id such as " + " or ".join(f"{kind}_0123456789abcdef" for kind in prefix.group(1).split("|"))
    return "is not in the expected form (see the field's description in the API document)"
