"""Usage reports: what the ledger's spending entries add up to, per UTC day and feature, project and key. Pure.

A spending entry (consumption, lease charge, allowance charge) becomes one ``UsageLine`` of count 1; the
usage aggregator adds lines of the same day and dimensions into rollups, and a report sums rollups into
periods (days or months) grouped by the dimensions asked for. Credits, refunds, disputes, lot expiry and
adjustments are not usage: they change the balance but nobody spent those tokens on a feature; the
purchase usage report (``tollgate.reports.service``) shows them per procurement ticket.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from tollgate.core.errors import InvalidField
from tollgate.core.limits import MAX_FUTURE_S, USAGE_RANGE_DAYS_MAX
from tollgate.core.models import EntryKind, LedgerEntry, key_of

DAY_S = 86_400
USAGE_KINDS = frozenset({EntryKind.CONSUMPTION, EntryKind.LEASE_CHARGE, EntryKind.ALLOWANCE_CHARGE})
MAX_RANGE_DAYS = USAGE_RANGE_DAYS_MAX
DEFAULT_RANGE_DAYS = 30


class Granularity(str, Enum):
    DAY = "day"
    MONTH = "month"


class Dimension(str, Enum):
    FEATURE = "feature"
    PROJECT = "project"
    KEY = "key"


@dataclass(frozen=True)
class UsageLine:
    """Tokens spent on one UTC day for one feature, by one project (or none) and one key (or none)."""

    day: str  # YYYY-MM-DD
    feature: str
    project_id: str | None
    key_id: str | None
    tokens: int = 0
    quantity: int = 0
    count: int = 0

    @property
    def identity(self) -> tuple[str, str, str | None, str | None]:
        return (self.day, self.feature, self.project_id, self.key_id)

    def plus(self, other: UsageLine) -> UsageLine:
        return replace(
            self,
            tokens=self.tokens + other.tokens,
            quantity=self.quantity + other.quantity,
            count=self.count + other.count,
        )


def day_of(at: int) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d")


def start_of(day: str) -> int:
    return int(dt.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=dt.UTC).timestamp())


def line_of(entry: LedgerEntry) -> UsageLine | None:
    """The usage one ledger entry records, or None when it is no spending."""
    if entry.kind not in USAGE_KINDS or entry.amount >= 0:
        return None
    return UsageLine(
        day=day_of(entry.created_at),
        feature=entry.feature or "",
        project_id=entry.project_id,
        key_id=entry.key_id or key_of(entry.actor),
        tokens=-entry.amount,
        quantity=entry.quantity or 0,
        count=1,
    )


def combine(lines: Iterable[UsageLine]) -> list[UsageLine]:
    """Lines of the same day and dimensions added together, in a stable order."""
    merged: dict[tuple[str, str, str | None, str | None], UsageLine] = {}
    for line in lines:
        known = merged.get(line.identity)
        merged[line.identity] = line if known is None else known.plus(line)
    return [merged[k] for k in sorted(merged, key=lambda k: (k[0], k[1], k[2] or "", k[3] or ""))]


def rollups_of(entries: Iterable[LedgerEntry]) -> list[UsageLine]:
    """What the ledger's entries add up to; the aggregator must arrive at exactly this."""
    return combine(line for line in map(line_of, entries) if line is not None)


@dataclass(frozen=True)
class DayRange:
    first: str  # inclusive, YYYY-MM-DD
    last: str  # inclusive

    @property
    def starts_at(self) -> int:
        return start_of(self.first)

    @property
    def ends_at(self) -> int:
        """The first second after the range."""
        return start_of(self.last) + DAY_S


def _parse_day(text: str, field: str) -> dt.date:
    if len(text) != 10 or not text.isascii():
        raise InvalidField(field, "must be a UTC date, YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidField(field, "must be a UTC date, YYYY-MM-DD") from None


def day_range(first: str | None, last: str | None, now: int) -> DayRange:
    """``from`` and ``to`` (both inclusive UTC days); ``to`` defaults to today, ``from`` to 29 days before it."""
    end = _parse_day(last, "to") if last is not None else dt.date.fromisoformat(day_of(now))
    latest = dt.date.fromisoformat(day_of(now + MAX_FUTURE_S))  # SPEC: no query date more than 10 years ahead
    if end.year < 2000:  # before the default start is computed: a day near year 1 would overflow it
        raise InvalidField("to", "must be no earlier than 2000-01-01")
    if end > latest:
        raise InvalidField("to", f"must be no later than {latest.isoformat()} (ten years ahead)")
    start = _parse_day(first, "from") if first is not None else end - dt.timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start.year < 2000:
        raise InvalidField("from", "must be no earlier than 2000-01-01")
    if start > latest:
        raise InvalidField("from", f"must be no later than {latest.isoformat()} (ten years ahead)")
    if start > end:
        raise InvalidField("from", "must not be after to")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise InvalidField("to", f"a report covers at most {MAX_RANGE_DAYS} days")
    return DayRange(start.isoformat(), end.isoformat())


def parse_group_by(text: str | None) -> tuple[Dimension, ...]:
    if text is None or text == "":
        return ()
    names = text.split(",")
    try:
        chosen = {Dimension(name) for name in names}
    except ValueError:
        raise InvalidField("group_by", "a comma-separated list of feature, project, key") from None
    if len(chosen) != len(names):
        raise InvalidField("group_by", "names a dimension twice")
    return tuple(d for d in Dimension if d in chosen)


def parse_granularity(text: str | None) -> Granularity:
    try:
        return Granularity(text or "day")
    except ValueError:
        raise InvalidField("granularity", "must be day or month") from None


@dataclass(frozen=True)
class UsageRow:
    period: str
    feature: str | None
    project_id: str | None
    key_id: str | None
    tokens: int
    quantity: int
    count: int


@dataclass(frozen=True)
class Totals:
    tokens: int = 0
    quantity: int = 0
    count: int = 0


@dataclass(frozen=True)
class UsageReport:
    range: DayRange
    granularity: Granularity
    group_by: tuple[Dimension, ...]
    rows: list[UsageRow]
    totals: Totals


def report(
    lines: Sequence[UsageLine], within: DayRange, granularity: Granularity, group_by: Sequence[Dimension]
) -> UsageReport:
    """Rollups summed into periods and the dimensions asked for; rows in period order, then by dimension."""
    sums: dict[tuple[str, str | None, str | None, str | None], list[int]] = {}
    for line in lines:
        if not within.first <= line.day <= within.last:
            continue
        period = line.day if granularity is Granularity.DAY else line.day[:7]
        row_key = (
            period,
            line.feature if Dimension.FEATURE in group_by else None,
            line.project_id if Dimension.PROJECT in group_by else None,
            line.key_id if Dimension.KEY in group_by else None,
        )
        found = sums.setdefault(row_key, [0, 0, 0])
        found[0] += line.tokens
        found[1] += line.quantity
        found[2] += line.count
    rows = [
        UsageRow(k[0], k[1], k[2], k[3], *sums[k])
        for k in sorted(sums, key=lambda k: (k[0], k[1] or "", k[2] or "", k[3] or ""))
    ]
    totals = Totals(sum(r.tokens for r in rows), sum(r.quantity for r in rows), sum(r.count for r in rows))
    return UsageReport(within, granularity, tuple(group_by), rows, totals)


CSV_COLUMNS = ("period", "feature", "project_id", "key_id", "tokens", "quantity", "count")


def csv_text(usage: UsageReport) -> str:
    """The report as CSV (RFC 4180, a header line); the columns of the dimensions not grouped by are empty."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in usage.rows:
        writer.writerow(
            [row.period, row.feature or "", row.project_id or "", row.key_id or "", row.tokens, row.quantity, row.count]
        )
    return out.getvalue()
