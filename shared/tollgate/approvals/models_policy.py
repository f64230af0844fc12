"""The tenant's action policy (``GET/PUT /v1/policy``) and its simulator (``POST /v1/policy/simulate``).

Shape checks live here, beside the fields they bound; what needs the tenant's records or the expression
engine (api key ids that exist, conditions that compile) is ``tollgate.approvals.service_policy``. A refusal names
the field by its path, so it names the rule too: ``rules.2.approval.quorum``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from tollgate.approvals.rules import DEFAULT_GRANT_TTL_S
from tollgate.core import limits
from tollgate.core.roles import Role
from tollgate.core.schema import AnswerModel, RequestModel, Tokens, example, json_integer
from tollgate.keys.models import Feature
from tollgate.tenancy.models import Region

RuleId = Annotated[str, Field(min_length=1, max_length=64, pattern=limits.RULE_ID_PATTERN)]
ActionGlob = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=limits.ACTION_PATTERN, description="An action name; `*` globs."),
]
ActionName = Annotated[str, Field(min_length=1, max_length=64, pattern=limits.ACTION_NAME_PATTERN)]
ProjectId = Annotated[str, Field(max_length=limits.ID_MAX, pattern=limits.PROJECT_ID_PATTERN)]
ApiKeyId = Annotated[str, Field(max_length=limits.ID_MAX, pattern=f"^ak_{limits.ID_BODY}$")]
LicenseKeyId = Annotated[str, Field(max_length=limits.ID_MAX, pattern=f"^lk_{limits.ID_BODY}$")]
KeyId = Annotated[str, Field(max_length=limits.ID_MAX, pattern=f"^(?:ak|lk)_{limits.ID_BODY}$")]
Environment = Annotated[str, Field(min_length=1, max_length=limits.ENVIRONMENT_MAX, pattern=limits.ENVIRONMENT_PATTERN)]
TimeOfDay = Annotated[str, Field(pattern=limits.TIME_OF_DAY_PATTERN, description="HH:MM, 24-hour.")]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RoleName = Annotated[Role, Field(strict=False)]  # strict mode takes only Role instances; JSON sends its value
EffectName = Literal["allow", "deny", "require_approval"]


def _distinct(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("lists a value twice")
    return values


# Files of a zone database that are not zones of their own: the host's zone (``localtime``), the POSIX
# default rules, tzdata's "Factory" placeholder and the ``posix/`` and ``right/`` copies of the tree.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    names = available_timezones() - _NOT_ZONES
    return frozenset(name for name in names if name.split("/")[0] not in ("posix", "right"))


def _timezone(name: str) -> str:
    """An IANA zone by its exact name (``Europe/Berlin``, ``UTC``): one the zone database lists, not the
    host's ``localtime``, ``posixrules``, ``Factory`` or a file path into the database."""
    if name not in _zone_names():
        raise ValueError("is not an IANA time zone, e.g. Europe/Berlin")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a directory of the zone database
        raise ValueError("is not an IANA time zone, e.g. Europe/Berlin") from exc
    return name


Timezone = Annotated[str, Field(min_length=1, max_length=limits.TIMEZONE_MAX), AfterValidator(_timezone)]


_MATCH_LIST = Field(min_length=1, max_length=limits.MAX_MATCH_VALUES)
Actions = Annotated[list[ActionGlob], _MATCH_LIST, AfterValidator(_distinct)]
Features = Annotated[list[Feature], _MATCH_LIST, AfterValidator(_distinct)]
Projects = Annotated[list[ProjectId], _MATCH_LIST, AfterValidator(_distinct)]
Environments = Annotated[list[Environment], _MATCH_LIST, AfterValidator(_distinct)]
Regions = Annotated[list[Region], _MATCH_LIST, AfterValidator(_distinct)]
Days = Annotated[list[Day], Field(min_length=1, max_length=7), AfterValidator(_distinct)]


class PrincipalsBody(RequestModel):
    roles: Annotated[list[RoleName], Field(max_length=limits.MAX_PRINCIPALS), AfterValidator(_distinct)] = Field(
        default_factory=list
    )
    api_key_ids: Annotated[list[ApiKeyId], Field(max_length=limits.MAX_PRINCIPALS), AfterValidator(_distinct)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _someone(self) -> PrincipalsBody:
        if not self.roles and not self.api_key_ids and not getattr(self, "license_key_ids", None):
            raise ValueError("names nobody: give roles or key ids")
        return self


class BreakGlassBody(PrincipalsBody):
    """Who may proceed at once, flagged (the approvers are told to review after the fact)."""

    license_key_ids: Annotated[
        list[LicenseKeyId], Field(max_length=limits.MAX_PRINCIPALS), AfterValidator(_distinct)
    ] = Field(default_factory=list)


class ScheduleBody(RequestModel):
    days: Days | None = Field(default=None, description="Days the range starts on; every day when absent.")
    from_: TimeOfDay = Field(alias="from", description="Start, inclusive, local time.")
    to: TimeOfDay = Field(description="End, exclusive. Before `from`: the range runs past midnight.")
    timezone: Timezone

    @model_validator(mode="after")
    def _not_empty(self) -> ScheduleBody:
        if self.from_ == self.to:
            raise ValueError("`from` and `to` are equal: the range would be empty")
        return self


class MatchBody(RequestModel):
    actions: Actions | None = None
    features: Features | None = None
    projects: Projects | None = None
    environments: Environments | None = None
    regions: Regions | None = None
    min_tokens: Tokens | None = Field(default=None, description="Inclusive.")
    max_tokens: Tokens | None = Field(default=None, description="Inclusive.")
    schedule: ScheduleBody | None = None

    @model_validator(mode="after")
    def _range(self) -> MatchBody:
        if self.min_tokens is not None and self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise ValueError("min_tokens is above max_tokens")
        return self


Seconds = Annotated[int, Field(ge=limits.MIN_APPROVAL_TIMEOUT_S, le=limits.MAX_APPROVAL_TIMEOUT_S)]


class ApprovalBody(RequestModel):
    approvers: PrincipalsBody
    quorum: Annotated[int, Field(ge=1, le=limits.MAX_QUORUM)]
    timeout_s: Seconds
    escalate_after_s: Seconds | None = None
    escalate_to: PrincipalsBody | None = None
    grant_ttl_s: Annotated[int, Field(ge=1, le=limits.MAX_GRANT_TTL_S)] = DEFAULT_GRANT_TTL_S

    @model_validator(mode="after")
    def _escalation(self) -> ApprovalBody:
        if self.escalate_after_s is not None and self.escalate_after_s >= self.timeout_s:
            raise ValueError("escalate_after_s must be shorter than timeout_s")
        if (self.escalate_after_s is None) != (self.escalate_to is None):
            raise ValueError("escalate_after_s and escalate_to go together")
        return self


class RuleBody(RequestModel):
    id: RuleId
    description: Annotated[str, Field(max_length=limits.DESCRIPTION_MAX, pattern=limits.TEXT_PATTERN)] | None = None
    effect: EffectName
    match: MatchBody = Field(default_factory=lambda: MatchBody())
    condition: Annotated[str, Field(min_length=1, max_length=limits.CONDITION_MAX)] | None = Field(
        default=None,
        description="A CEL expression over action, feature, tokens, project, environment, region, "
        "attributes, key and now; a rule with one matches only when it is true.",
    )
    approval: ApprovalBody | None = None
    break_glass: BreakGlassBody | None = None

    @model_validator(mode="after")
    def _approval(self) -> RuleBody:
        if self.effect == "require_approval" and self.approval is None:
            raise ValueError("a require_approval rule needs an approval")
        if self.effect != "require_approval" and (self.approval is not None or self.break_glass is not None):
            raise ValueError("only a require_approval rule has an approval or a break_glass")
        return self


class PolicyBody(RequestModel):
    model_config = example(
        {
            "default_effect": "allow",
            "rules": [
                {
                    "id": "prod-deploys",
                    "description": "Deploys to production need an admin's approval",
                    "effect": "require_approval",
                    "match": {"actions": ["deploy"], "environments": ["production"]},
                    "approval": {"approvers": {"roles": ["admin"]}, "quorum": 1, "timeout_s": 3600},
                }
            ],
        }
    )

    default_effect: EffectName = "allow"
    rules: Annotated[list[RuleBody], Field(max_length=limits.MAX_POLICY_RULES)] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _distinct_ids(cls, rules: list[RuleBody]) -> list[RuleBody]:
        seen: set[str] = set()
        for index, rule in enumerate(rules):
            if rule.id in seen:
                raise ValueError(f"rule {index} repeats the id {rule.id}")
            seen.add(rule.id)
        globs = sum(1 for rule in rules for action in rule.match.actions or () if "*" in action)
        if globs > limits.MAX_POLICY_GLOBS:
            raise ValueError(
                f"has {globs} action patterns with `*`; a policy may have at most {limits.MAX_POLICY_GLOBS} "
                "(each is matched on every request)"
            )
        return rules

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ------------------------------------------------------------------------------------------------ answers


class PrincipalsView(AnswerModel):
    roles: list[str]
    api_key_ids: list[str]
    license_key_ids: list[str] | None = None


class ScheduleView(AnswerModel):
    days: list[str]
    from_: str = Field(alias="from")
    to: str
    timezone: str


class MatchView(AnswerModel):
    actions: list[str] | None = None
    features: list[str] | None = None
    projects: list[str] | None = None
    environments: list[str] | None = None
    regions: list[str] | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    schedule: ScheduleView | None = None


class ApprovalView(AnswerModel):
    approvers: PrincipalsView
    quorum: int
    timeout_s: int
    grant_ttl_s: int
    escalate_after_s: int | None = None
    escalate_to: PrincipalsView | None = None


class RuleView(AnswerModel):
    id: str
    effect: EffectName
    match: MatchView
    description: str | None = None
    condition: str | None = None
    approval: ApprovalView | None = None
    break_glass: PrincipalsView | None = None


class PolicyView(AnswerModel):
    version: int = Field(description="0 until the first PUT; the ETag, and what If-Match must name.")
    default_effect: EffectName
    rules: list[RuleView]


class PolicyAnswer(AnswerModel):
    policy: PolicyView


AttributeName = Annotated[str, Field(pattern=limits.ATTRIBUTE_KEY_PATTERN)]
AttributeValue = (
    Annotated[str, Field(max_length=limits.ATTRIBUTE_VALUE_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f]*$")]
    | Annotated[int, Field(ge=-limits.MAX_TOKENS, le=limits.MAX_TOKENS), BeforeValidator(json_integer)]
    | bool
)
Attributes = Annotated[
    dict[AttributeName, AttributeValue],
    Field(
        max_length=limits.MAX_ATTRIBUTES,
        description="Flat: short names; strings, integers or booleans.",
        json_schema_extra={"additionalProperties": False},
    ),
]


class SimulationBody(RequestModel):
    """A request as an action would make it (or a spend: action ``consume``, ``lease``, ``allowance``)."""

    model_config = example({"action": "deploy", "feature": "deploy", "tokens": 10, "environment": "production"})

    action: ActionName
    feature: Feature | None = None
    tokens: Tokens = 0
    project_id: ProjectId | None = None
    environment: Environment | None = None
    region: Region | None = None
    attributes: Attributes = Field(default_factory=dict)
    key_id: KeyId | None = Field(default=None, description="The requesting key; the caller's own when absent.")
    role: RoleName | None = Field(
        default=None, description="The requesting API key's role (with key_id); a license key has none (ignored)."
    )

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, attributes: dict[str, Any]) -> dict[str, Any]:
        check_attributes(attributes)
        return attributes


def check_attributes(attributes: dict[str, Any]) -> None:
    """Attributes are flat: short keys, and strings, integers or booleans as values."""
    import re

    for name, value in attributes.items():
        if not re.fullmatch(limits.ATTRIBUTE_KEY_PATTERN, name):
            raise ValueError(f"attribute {name[:64]!r} is not a valid name")
        if isinstance(value, str):
            if len(value) > limits.ATTRIBUTE_VALUE_MAX or limits.CONTROL_CHARACTERS.search(value):
                raise ValueError(f"attribute {name}: at most {limits.ATTRIBUTE_VALUE_MAX} printable characters")
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if abs(value) > limits.MAX_TOKENS:
                raise ValueError(f"attribute {name}: an integer of at most 10^15")
        else:
            raise ValueError(f"attribute {name}: a string, an integer or a boolean")


class RuleTraceView(AnswerModel):
    rule_id: str
    matched: bool
    fields: dict[str, bool] = Field(description="Each match field the rule has, and whether it held.")
    condition: bool | None
    condition_error: str | None


class DecisionView(AnswerModel):
    effect: EffectName
    rule_id: str | None = Field(description="The rule that decided; null when the default effect did.")
    policy_version: int
    matched_fields: list[str]
    condition: bool | None
    condition_error: str | None = Field(description="A condition that failed: the rule denies (fail closed).")
    break_glass_allowed: bool
    approval: ApprovalView | None
    rules: list[RuleTraceView] = Field(description="Every rule tried, in order, up to the one that decided.")


class SimulationAnswer(AnswerModel):
    decision: DecisionView
