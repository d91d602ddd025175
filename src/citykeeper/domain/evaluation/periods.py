"""Evaluation periods (考评周期): week, month, quarter, year or a custom range of days.

Dates are local calendar days, both ends included. A week is an ISO week (Monday to Sunday).
``previous()`` is the period before (环比: the preceding period of the same kind and length);
``year_ago()`` the same period a year earlier (同比). ``split()`` cuts a period into whole
months and leftover day ranges, so the services read month counter rows where they can and
day rows for the rest.

A period may not start in the future. One that has started but not ended (its last day is
today or later) is allowed and *provisional*: its counts can still grow.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from citykeeper.domain.errors import InvalidInput


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    CUSTOM = "custom"


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def _iso_weeks(year: int) -> int:
    return date(year, 12, 28).isocalendar().week  # 28 December is always in the last ISO week


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class Split:
    months: tuple[date, ...]  # the first day of each whole month
    days: tuple[tuple[date, date], ...]  # leftover (first, last) day ranges, in order


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    kind: PeriodKind = PeriodKind.CUSTOM

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, date) or isinstance(value, datetime):
                raise InvalidInput(f"The period's {name} must be a date, not {value!r}.", field=name)
        try:
            object.__setattr__(self, "kind", PeriodKind(self.kind))
        except ValueError:
            kinds = ", ".join(k.value for k in PeriodKind)
            raise InvalidInput(f"A period is one of {kinds}, not {self.kind!r}.", field="kind") from None
        if self.end < self.start:
            raise InvalidInput(f"The period ends ({self.end}) before it starts ({self.start}).", field="end")
        if self != _SHAPES[self.kind](self):
            raise InvalidInput(f"{self.start}…{self.end} is not a whole {self.kind.value}.", field="kind")

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def week(cls, year: int, week: int) -> Period:
        if not 1 <= week <= _iso_weeks(year):
            raise InvalidInput(f"{year} has ISO weeks 1 to {_iso_weeks(year)}, not {week}.", field="week")
        monday = date.fromisocalendar(year, week, 1)
        return cls(monday, monday + timedelta(days=6), PeriodKind.WEEK)

    @classmethod
    def week_of(cls, day: date) -> Period:
        iso = day.isocalendar()
        return cls.week(iso.year, iso.week)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        if not 1 <= month <= 12:
            raise InvalidInput(f"A month is 1 to 12, not {month}.", field="month")
        return cls(date(year, month, 1), _month_end(year, month), PeriodKind.MONTH)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise InvalidInput(f"A quarter is 1 to 4, not {quarter}.", field="quarter")
        first = 3 * quarter - 2
        return cls(date(year, first, 1), _month_end(year, first + 2), PeriodKind.QUARTER)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), PeriodKind.YEAR)

    @classmethod
    def custom(cls, start: date, end: date) -> Period:
        return cls(start, end, PeriodKind.CUSTOM)

    # -- checks ---------------------------------------------------------------------------

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def validate(self, today: date) -> Period:
        """Refuse a period that starts after ``today`` (the local date); return it otherwise."""
        if self.start > today:
            raise InvalidInput(
                f"The period starts on {self.start}, after today ({today}); nothing has been counted yet.",
                field="start",
            )
        return self

    def provisional(self, today: date) -> bool:
        """True while the period's last day has not passed: its figures are not final."""
        return self.end >= today

    # -- neighbours -----------------------------------------------------------------------

    def previous(self) -> Period:
        """环比: the preceding period of the same kind (and, for custom ranges, length)."""
        if self.kind is PeriodKind.WEEK:
            return Period.week_of(self.start - timedelta(days=7))
        if self.kind is PeriodKind.MONTH:
            return Period.month(*_add_months(self.start.year, self.start.month, -1))
        if self.kind is PeriodKind.QUARTER:
            y, m = _add_months(self.start.year, self.start.month, -3)
            return Period.quarter(y, (m + 2) // 3)
        if self.kind is PeriodKind.YEAR:
            return Period.year(self.start.year - 1)
        return Period.custom(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def year_ago(self) -> Period:
        """同比: the same period one year earlier. ISO week 53 of a year maps to the last week
        (52) of a year that has none; a custom range starting or ending on 29 February maps
        to the 28th."""
        if self.kind is PeriodKind.WEEK:
            iso = self.start.isocalendar()
            return Period.week(iso.year - 1, min(iso.week, _iso_weeks(iso.year - 1)))
        if self.kind is PeriodKind.MONTH:
            return Period.month(self.start.year - 1, self.start.month)
        if self.kind is PeriodKind.QUARTER:
            return Period.quarter(self.start.year - 1, (self.start.month + 2) // 3)
        if self.kind is PeriodKind.YEAR:
            return Period.year(self.start.year - 1)
        return Period.custom(_year_earlier(self.start), _year_earlier(self.end))

    def split(self) -> Split:
        """Whole calendar months inside the period, and the day ranges left over."""
        months: list[date] = []
        days: list[tuple[date, date]] = []
        cursor = self.start
        y, m = self.start.year, self.start.month
        while date(y, m, 1) <= self.end:
            first, last = date(y, m, 1), _month_end(y, m)
            if first >= self.start and last <= self.end:
                if cursor < first:
                    days.append((cursor, first - timedelta(days=1)))
                months.append(first)
                cursor = last + timedelta(days=1)
            y, m = _add_months(y, m, 1)
        if cursor <= self.end:
            days.append((cursor, self.end))
        return Split(tuple(months), tuple(days))

    def label(self) -> str:
        """How bulletins name the period (中文)."""
        if self.kind is PeriodKind.WEEK:
            iso = self.start.isocalendar()
            return f"{iso.year}年第{iso.week}周"
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year}年{self.start.month}月"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.start.year}年第{(self.start.month + 2) // 3}季度"
        if self.kind is PeriodKind.YEAR:
            return f"{self.start.year}年"
        return f"{self.start.isoformat()}至{self.end.isoformat()}"


# Each kind's canonical period containing ``p.start``: a period of that kind must equal it.
def _shape(start_of, end_of):
    def canonical(p: Period) -> Period:
        start = start_of(p.start)
        end = end_of(start)
        return _raw(start, end, p.kind)

    return canonical


def _raw(start: date, end: date, kind: PeriodKind) -> Period:
    # Builds a Period without running the checks (used by the checks themselves).
    p = object.__new__(Period)
    object.__setattr__(p, "start", start)
    object.__setattr__(p, "end", end)
    object.__setattr__(p, "kind", kind)
    return p


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


_SHAPES = {
    PeriodKind.WEEK: _shape(lambda d: d - timedelta(days=d.weekday()), lambda s: s + timedelta(days=6)),
    PeriodKind.MONTH: _shape(lambda d: d.replace(day=1), lambda s: _month_end(s.year, s.month)),
    PeriodKind.QUARTER: _shape(_quarter_start, lambda s: _month_end(s.year, s.month + 2)),
    PeriodKind.YEAR: _shape(lambda d: date(d.year, 1, 1), lambda s: date(s.year, 12, 31)),
    PeriodKind.CUSTOM: lambda p: p,
}


# -- text form (URLs, the command line) -------------------------------------------------------

_FORMS = (
    (re.compile(r"^(\d{4})$"), lambda m: Period.year(int(m[1]))),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), lambda m: Period.month(int(m[1]), int(m[2]))),
    (re.compile(r"^(\d{4})-[Qq]([1-4])$"), lambda m: Period.quarter(int(m[1]), int(m[2]))),
    (re.compile(r"^(\d{4})-[Ww](\d{1,2})$"), lambda m: Period.week(int(m[1]), int(m[2]))),
    (
        re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.\.|~|/)(\d{4}-\d{2}-\d{2})$"),
        lambda m: Period.custom(date.fromisoformat(m[1]), date.fromisoformat(m[2])),
    ),
)


def parse(text: str) -> Period:
    """``2026``, ``2026-10``, ``2026-Q3``, ``2026-W43`` or ``2026-10-01..2026-10-15``."""
    value = (text or "").strip()
    for pattern, build in _FORMS:
        match = pattern.match(value)
        if match:
            try:
                return build(match)
            except ValueError as exc:  # a day that does not exist, e.g. 2026-02-30
                raise InvalidInput(f"{value!r} is not a date range: {exc}.", field="period") from None
    raise InvalidInput(
        f"Unknown period {value!r}: write 2026, 2026-10, 2026-Q3, 2026-W43 or 2026-10-01..2026-10-15.",
        field="period",
    )


def token(period: Period) -> str:
    """The text :func:`parse` reads back into ``period``."""
    if period.kind is PeriodKind.YEAR:
        return f"{period.start.year}"
    if period.kind is PeriodKind.MONTH:
        return f"{period.start.year}-{period.start.month:02d}"
    if period.kind is PeriodKind.QUARTER:
        return f"{period.start.year}-Q{(period.start.month + 2) // 3}"
    if period.kind is PeriodKind.WEEK:
        iso = period.start.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    return f"{period.start.isoformat()}..{period.end.isoformat()}"
