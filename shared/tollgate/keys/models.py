"""License keys: the SDK's credentials, issued, listed, revoked and rotated from the portal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from tollgate.core import limits
from tollgate.core.schema import AnswerModel, Name, RequestModel, Timestamp, example
from tollgate.keys import rules as regions

Feature = Annotated[str, Field(min_length=1, max_length=limits.FEATURE_MAX, pattern=limits.FEATURE_PATTERN)]
RegionOrGroup = Annotated[
    str,
    Field(
        min_length=1,
        max_length=limits.REGION_MAX,
        description="An AWS region name (eu-west-1) or a region group (docs/regions.md).",
        json_schema_extra={"enum": sorted(regions.KNOWN_REGIONS | regions.GROUPS)},  # checked by the domain
    ),
]


def _instant(text: str) -> str:
    """An ISO-8601 date-time with an offset, from 2000 on. How far ahead is the service's check (its clock)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError("must be an ISO-8601 date-time such as 2027-01-31T00:00:00Z") from exc
    if moment.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2027-01-31T00:00:00Z")
    try:
        epoch_s = moment.timestamp()
    except (OverflowError, ValueError) as exc:
        raise ValueError("is out of range") from exc
    if epoch_s < limits.MIN_TIMESTAMP:
        raise ValueError("must not be before 2000-01-01")
    return text


Instant = Annotated[
    str,
    Field(
        max_length=40, json_schema_extra={"format": "date-time"}, description="In the future, at most ten years ahead."
    ),
    AfterValidator(_instant),
]


class LicenseKeyBody(RequestModel):
    model_config = example({"name": "Build server 1", "regions": ["eu-west-1"], "features": ["build", "scan"]})

    name: Name
    regions: list[RegionOrGroup] = Field(min_length=1, max_length=limits.MAX_LIST_ITEMS)
    features: list[Feature] | None = Field(
        default=None, min_length=1, max_length=limits.MAX_FEATURES, description="Omitted: every feature."
    )
    project_id: str | None = Field(default=None, max_length=limits.ID_MAX, pattern=limits.PROJECT_ID_PATTERN)
    environment: str | None = Field(default=None, max_length=limits.ENVIRONMENT_MAX, pattern=limits.ENVIRONMENT_PATTERN)
    expires_at: Instant | None = None


class LicenseKey(AnswerModel):
    id: str
    name: str
    display: str
    regions: list[str]
    features: list[str] | None
    project_id: str | None
    environment: str | None
    created_at: Timestamp | None
    expires_at: Timestamp | None
    revoked_at: Timestamp | None
    rotated_at: Timestamp | None


class NewLicenseKeyAnswer(AnswerModel):
    key: LicenseKey
    secret: str = Field(description="The license key itself (`tgk_…`), shown in this answer only.")


class LicenseKeyAnswer(AnswerModel):
    key: LicenseKey


class LicenseKeysAnswer(AnswerModel):
    keys: list[LicenseKey]
