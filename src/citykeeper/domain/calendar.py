"""Working-time arithmetic for case deadlines.

Deadlines in urban management are counted in *working* time: "dispatch within
2 working hours", "resolve within 5 working days". A deadline therefore has to
skip nights, lunch breaks, weekends and public holidays, and it has to honour
swapped workdays (调休), the weekend days the State Council turns into working
days to stitch holidays together.

The model is deliberately small:

* :class:`WorkPeriod` is one working interval of a day, in minutes since local
  midnight, so that an interval ending at midnight (``24:00``) can be written.
* :class:`WeekTemplate` is the ordinary week, Monday first.
* :class:`DayRule` overrides one date: a holiday or a swapped workday.
* :class:`WorkingCalendar` combines them in one time zone and answers the
  questions the rest of the system asks: *is this instant working time*, *when
  does N of working time starting here run out*, *how much working time lies
  between two instants*.

Holidays are published one year at a time, so a calendar can be told which
years it has rows for. Arithmetic that has to look at a day in any other year
refuses with :class:`CalendarYearMissing` instead of silently treating the
unknown holidays as working days and producing a wrong legal deadline.

All arithmetic is done on UTC instants with :class:`datetime.timedelta`, which
keeps microsecond precision exact and stays correct even for a zone with
daylight saving time (subtracting two aware datetimes that share a ``tzinfo``
would otherwise compare wall clocks, not instants).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from citykeeper.domain.errors import CalendarYearMissing, InvalidInput

__all__ = ["DayRule", "WeekTemplate", "WorkPeriod", "WorkingCalendar"]

MINUTES_PER_DAY = 24 * 60

# A week template without any working time (and no workday rules) would make
# ``add`` walk forever; ten years of fruitless walking is a broken calendar, not
# a long deadline.
_MAX_WALK_DAYS = 3660

_UTC = dt.UTC
_ONE_DAY = dt.timedelta(days=1)
_ONE_MICROSECOND = dt.timedelta(microseconds=1)
_ZERO = dt.timedelta(0)

_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

# Periods of one day as UTC instants, sorted and non-overlapping.
_UtcPeriods = tuple[tuple[dt.datetime, dt.datetime], ...]


def _format_minute(minute: int) -> str:
    hours, minutes = divmod(minute, 60)
    return f"{hours:02d}:{minutes:02d}"


@dataclass(frozen=True)
class WorkPeriod:
    """One working interval inside a day, in local wall-clock minutes.

    Minutes rather than :class:`datetime.time` because a period may run to
    midnight, which ``time`` cannot express as an end (there is no
    ``time(24, 0)``). The interval is half-open: ``[start_minute, end_minute)``.
    """

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        for value in (self.start_minute, self.end_minute):
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput("A work period is given in whole minutes since midnight.", field="period")
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise InvalidInput(
                f"A work period must satisfy 0 <= start < end <= {MINUTES_PER_DAY} minutes; "
                f"got {self.start_minute}-{self.end_minute}.",
                field="period",
            )

    @classmethod
    def parse(cls, text: str) -> WorkPeriod:
        """Read ``"08:30-12:00"``; ``24:00`` is accepted as an end (midnight)."""
        match = _PERIOD_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(f"Expected a work period like '08:30-12:00', got {text!r}.", field="period")
        start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
        if start_m >= 60 or end_m >= 60 or start_h >= 24 or end_h > 24 or (end_h == 24 and end_m != 0):
            raise InvalidInput(f"{text!r} is not a valid time range.", field="period")
        return cls(start_h * 60 + start_m, end_h * 60 + end_m)

    @property
    def minutes(self) -> int:
        """Length of the period in minutes."""
        return self.end_minute - self.start_minute

    def __str__(self) -> str:
        return f"{_format_minute(self.start_minute)}-{_format_minute(self.end_minute)}"


@dataclass(frozen=True)
class WeekTemplate:
    """The ordinary working week: seven days of periods, Monday first.

    Validation happens here, once, so the arithmetic can rely on each day's
    periods being sorted and disjoint.
    """

    days: tuple[tuple[WorkPeriod, ...], ...]

    def __post_init__(self) -> None:
        try:
            days = tuple(tuple(day) for day in self.days)
        except TypeError:
            raise InvalidInput("A week template is seven lists of work periods.", field="week") from None
        if len(days) != 7:
            raise InvalidInput(f"A week template needs exactly 7 days (Monday first), got {len(days)}.", field="week")
        for weekday, periods in enumerate(days):
            previous_end = -1
            for period in periods:
                if not isinstance(period, WorkPeriod):
                    raise InvalidInput("A week template day holds WorkPeriod values only.", field="week")
                if period.start_minute < previous_end:
                    raise InvalidInput(
                        f"The work periods of weekday {weekday} (0 = Monday) must be sorted and must not overlap.",
                        field="week",
                    )
                previous_end = period.end_minute
        # Store tuples so the template stays hashable even if lists were passed.
        object.__setattr__(self, "days", days)

    @classmethod
    def default(cls) -> WeekTemplate:
        """Chinese civil-service hours: Mon-Fri 08:30-12:00 and 13:30-17:30."""
        workday = (WorkPeriod.parse("08:30-12:00"), WorkPeriod.parse("13:30-17:30"))
        return cls((workday,) * 5 + ((), ()))

    @classmethod
    def around_the_clock(cls) -> WeekTemplate:
        """Every day 00:00-24:00, for services that never close (e.g. hotlines)."""
        return cls(((WorkPeriod(0, MINUTES_PER_DAY),),) * 7)

    @property
    def workday_periods(self) -> tuple[WorkPeriod, ...]:
        """The hours of a swapped workday (调休): those of the first day that works."""
        for periods in self.days:
            if periods:
                return periods
        return ()

    @property
    def standard_day_minutes(self) -> int:
        """Minutes in one standard working day; converts "N working days" to time."""
        return sum(period.minutes for period in self.workday_periods)


@dataclass(frozen=True)
class DayRule:
    """An override for one date.

    ``is_workday=False`` makes the date a holiday whatever its weekday;
    ``is_workday=True`` makes it a working day with the template's
    :attr:`WeekTemplate.workday_periods`, even on a weekend (调休).
    """

    day: dt.date
    is_workday: bool
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.day, dt.date) or isinstance(self.day, dt.datetime):
            raise InvalidInput("A calendar rule applies to a date, not a date-time.", field="day")


def _require_aware(value: object, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise InvalidInput(f"{field} must be a datetime.", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} must be timezone-aware; a naive datetime is ambiguous for deadlines.",
            field=field,
        )
    return value


class WorkingCalendar:
    """Working-time arithmetic over a week template, date rules and a time zone.

    The calendar walks day by day and caches each date's working periods (as
    UTC instants), so even a 15-working-day addition touches ~21 cached tuples.
    A calendar that covers every instant (the 24-hour calendar) skips the walk
    and uses plain timedelta arithmetic.
    """

    def __init__(
        self,
        *,
        week: WeekTemplate,
        rules: Iterable[DayRule] = (),
        known_years: Iterable[int] | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        if not isinstance(week, WeekTemplate):
            raise InvalidInput("week must be a WeekTemplate.", field="week")
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise InvalidInput(f"Unknown time zone {tz!r}.", field="tz") from None

        by_day: dict[dt.date, DayRule] = {}
        for rule in rules:
            if not isinstance(rule, DayRule):
                raise InvalidInput("rules must be DayRule values.", field="rules")
            existing = by_day.get(rule.day)
            if existing is not None and existing.is_workday != rule.is_workday:
                raise InvalidInput(
                    f"{rule.day.isoformat()} is given both as a holiday and as a workday.",
                    field="rules",
                )
            by_day[rule.day] = rule

        self.week = week
        self.tz = tz
        self.zone = zone
        self.known_years: frozenset[int] | None = None if known_years is None else frozenset(known_years)
        self._rules = by_day
        self._cache: dict[dt.date, _UtcPeriods] = {}
        whole_day = (WorkPeriod(0, MINUTES_PER_DAY),)
        # Every instant is working time: plain arithmetic gives the same answers
        # as the walk, only faster. A year check would still need the walk.
        self._continuous = (
            self.known_years is None
            and all(periods == whole_day for periods in week.days)
            and not any(not rule.is_workday for rule in by_day.values())
        )

    @classmethod
    def around_the_clock(cls, tz: str = "Asia/Shanghai") -> WorkingCalendar:
        """A 24-hour calendar: every instant works and no year needs rows."""
        return cls(week=WeekTemplate.around_the_clock(), tz=tz)

    @property
    def rules(self) -> Mapping[dt.date, DayRule]:
        """The override rows by date (read-only view)."""
        return dict(self._rules)

    def __repr__(self) -> str:
        years = "all" if self.known_years is None else sorted(self.known_years)
        return f"<WorkingCalendar tz={self.tz} rules={len(self._rules)} known_years={years}>"

    # -- per-day periods -------------------------------------------------

    def _local_periods(self, day: dt.date) -> tuple[WorkPeriod, ...]:
        rule = self._rules.get(day)
        if rule is None:
            return self.week.days[day.weekday()]
        return self.week.workday_periods if rule.is_workday else ()

    def _build_utc_periods(self, day: dt.date) -> _UtcPeriods:
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)
        result: list[tuple[dt.datetime, dt.datetime]] = []
        previous_end: dt.datetime | None = None
        for period in self._local_periods(day):
            # Aware + timedelta is wall-clock arithmetic, which is what a period
            # means; only then convert to an instant.
            start = (midnight + dt.timedelta(minutes=period.start_minute)).astimezone(_UTC)
            end = (midnight + dt.timedelta(minutes=period.end_minute)).astimezone(_UTC)
            # Around a DST transition wall-clock periods can map onto overlapping
            # instants; clamp so the list stays sorted and disjoint.
            if previous_end is not None and start < previous_end:
                start = previous_end
            if end <= start:
                continue
            result.append((start, end))
            previous_end = end
        return tuple(result)

    def _utc_periods(self, day: dt.date) -> _UtcPeriods:
        """The day's periods as UTC instants; refuses days of unknown years."""
        if self.known_years is not None and day.year not in self.known_years:
            raise CalendarYearMissing(day.year)
        periods = self._cache.get(day)
        if periods is None:
            periods = self._build_utc_periods(day)
            self._cache[day] = periods
        return periods

    def _local_date(self, instant: dt.datetime) -> dt.date:
        # Every period of a day lies within that day's local [00:00, 24:00), so the
        # local date of an instant is the first day that can contain or follow it.
        return instant.astimezone(self.zone).date()

    def _no_working_time(self) -> InvalidInput:
        return InvalidInput(
            f"The working calendar has no working time within {_MAX_WALK_DAYS} days; "
            f"check the week template and the holiday rules.",
            field="calendar",
        )

    # -- public queries --------------------------------------------------

    def periods_on(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working intervals of ``day`` as aware datetimes in the calendar's zone."""
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise InvalidInput("day must be a date.", field="day")
        return [(start.astimezone(self.zone), end.astimezone(self.zone)) for start, end in self._utc_periods(day)]

    def is_working(self, at: dt.datetime) -> bool:
        """Whether ``at`` falls inside a working period (periods are half-open)."""
        instant = _require_aware(at, "at").astimezone(_UTC)
        if self._continuous:
            return True
        return any(start <= instant < end for start, end in self._utc_periods(self._local_date(instant)))

    def next_working_instant(self, at: dt.datetime) -> dt.datetime:
        """``at`` itself if it is working time, else the start of the next period."""
        instant = _require_aware(at, "at").astimezone(_UTC)
        if self._continuous:
            return instant.astimezone(self.zone)
        day = self._local_date(instant)
        for _ in range(_MAX_WALK_DAYS):
            for start, end in self._utc_periods(day):
                if end > instant:
                    return max(start, instant).astimezone(self.zone)
            day += _ONE_DAY
        raise self._no_working_time()

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The earliest instant ``t >= start`` with ``between(start, t) == duration``.

        "Earliest" is what makes a duration that exactly fills a period end at
        that period's end (16:30 + 1h is 17:30 the same day, not 08:30 the next
        morning), and what makes a zero duration return ``start`` itself even
        outside working hours. The result is ``start``'s instant or later,
        expressed in the calendar's zone.
        """
        instant = _require_aware(start, "start").astimezone(_UTC)
        if not isinstance(duration, dt.timedelta):
            raise InvalidInput("duration must be a timedelta.", field="duration")
        if duration < _ZERO:
            raise InvalidInput("A working-time duration cannot be negative.", field="duration")
        if duration == _ZERO or self._continuous:
            return (instant + duration).astimezone(self.zone)

        remaining = duration
        day = self._local_date(instant)
        for _ in range(_MAX_WALK_DAYS):
            for period_start, period_end in self._utc_periods(day):
                if period_end <= instant:
                    continue
                begin = period_start if period_start > instant else instant
                available = period_end - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.zone)
                remaining -= available
            day += _ONE_DAY
        raise self._no_working_time()

    def between(self, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """Working time in ``[a, b)``; negative (``-between(b, a)``) when ``b < a``."""
        lo = _require_aware(a, "a").astimezone(_UTC)
        hi = _require_aware(b, "b").astimezone(_UTC)
        if hi < lo:
            return -self._between(hi, lo)
        return self._between(lo, hi)

    def _between(self, lo: dt.datetime, hi: dt.datetime) -> dt.timedelta:
        if hi == lo:
            return _ZERO
        if self._continuous:
            return hi - lo
        total = _ZERO
        day = self._local_date(lo)
        # ``hi`` is excluded, so the last day that can hold working time is the
        # one containing the instant just before it; an interval ending at
        # midnight does not need (or year-check) the following day.
        last_day = self._local_date(hi - _ONE_MICROSECOND)
        while day <= last_day:
            for period_start, period_end in self._utc_periods(day):
                if period_end <= lo:
                    continue
                if period_start >= hi:
                    break
                total += min(period_end, hi) - max(period_start, lo)
            day += _ONE_DAY
        return total
