"""The working calendar as stored: build the domain calendar, seed it, warn about gaps."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max

from citykeeper.domain.calendar import DayRule, WeekTemplate, WorkingCalendar, WorkPeriod
from citykeeper.store.models import CalendarDay, CalendarYear, WorkPeriodRow

log = logging.getLogger(__name__)

# Other processes see a calendar edit within this many seconds; this process at once
# (the admin and the seeding functions call ``invalidate``).
_CACHE_SECONDS = 30
_lock = threading.Lock()
_cache: dict[str, object] = {}


def invalidate() -> None:
    with _lock:
        _cache.clear()


def _fingerprint() -> tuple:
    """Changes when any calendar row is added, edited or deleted (count + newest edit)."""
    return tuple(
        tuple(model.objects.aggregate(n=Count("id"), m=Max("updated_at")).values())
        for model in (CalendarDay, WorkPeriodRow, CalendarYear)
    )


def _build() -> WorkingCalendar:
    rows = list(WorkPeriodRow.objects.order_by("weekday", "start"))
    if rows:
        days: list[list[WorkPeriod]] = [[] for _ in range(7)]
        for row in rows:
            end = 1440 if row.end == dt.time(0, 0) else row.end.hour * 60 + row.end.minute
            days[row.weekday].append(WorkPeriod(row.start.hour * 60 + row.start.minute, end))
        week = WeekTemplate(tuple(tuple(d) for d in days))
    else:
        week = WeekTemplate.default()
    rules = [DayRule(d.day, d.is_workday, d.name) for d in CalendarDay.objects.all()]
    years = list(CalendarYear.objects.values_list("year", flat=True))
    return WorkingCalendar(week=week, rules=rules, known_years=years, tz=settings.TIME_ZONE)


def working_calendar() -> WorkingCalendar:
    """The office-hours calendar, cached per process and rebuilt when the rows change."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get("calendar")
        if cached is not None and now - _cache["checked_at"] < _CACHE_SECONDS:
            return cached
    fingerprint = _fingerprint()
    with _lock:
        if cached is not None and _cache.get("fingerprint") == fingerprint:
            _cache["checked_at"] = now
            return cached
    calendar = _build()
    with _lock:
        _cache.update(calendar=calendar, fingerprint=fingerprint, checked_at=now)
    return calendar


def calendar_for(around_the_clock: bool) -> WorkingCalendar:
    if around_the_clock:
        return WorkingCalendar.around_the_clock(settings.TIME_ZONE)
    return working_calendar()


DEFAULT_WEEK = [(wd, dt.time(8, 30), dt.time(12, 0)) for wd in range(5)] + [
    (wd, dt.time(13, 30), dt.time(17, 30)) for wd in range(5)
]


@transaction.atomic
def seed_calendar(years: range | list[int] | None = None) -> dict[str, int]:
    """Write the default week and the holidays known to ``chinese-calendar``.

    Existing rows win: an administrator's edit is never overwritten. Years the
    package does not know are skipped and reported (the admin warns about them).
    """
    import chinese_calendar  # only needed here, at seeding time

    if not WorkPeriodRow.objects.exists():
        WorkPeriodRow.objects.bulk_create(WorkPeriodRow(weekday=w, start=s, end=e) for w, s, e in DEFAULT_WEEK)
    known = {d.year for d in chinese_calendar.constants.holidays}
    wanted = set(years) if years is not None else known
    created = 0
    for year in sorted(wanted & known):
        existing = set(CalendarDay.objects.filter(day__year=year).values_list("day", flat=True))
        rows = []
        for day, name in chinese_calendar.constants.holidays.items():
            if day.year == year and day not in existing and day.weekday() < 5:
                rows.append(CalendarDay(day=day, is_workday=False, name=_holiday_name(name), source="chinese-calendar"))
        for day, name in chinese_calendar.constants.workdays.items():
            if day.year == year and day not in existing and day.weekday() >= 5:
                rows.append(CalendarDay(day=day, is_workday=True, name=_holiday_name(name), source="chinese-calendar"))
        CalendarDay.objects.bulk_create(rows)
        created += len(rows)
        CalendarYear.objects.get_or_create(year=year, defaults={"source": "chinese-calendar 1.11.0"})
    invalidate()
    skipped = sorted(wanted - known)
    log.info("calendar seeded", extra={"days": created, "skipped_years": skipped})
    return {"days": created, "skipped_years": len(skipped)}


_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def _holiday_name(name: str) -> str:
    return _NAMES.get(name, name)


# The source of a year row written so deadlines can be counted before its holidays are
# known (the demo does this): the default week only. It still counts as missing for the
# warnings until an administrator enters the holidays and confirms the year.
PROVISIONAL_SOURCE = "provisional: default week only, holidays not entered"


def missing_years(today: dt.date, *, ahead: int = 1) -> list[int]:
    """Years from this one to ``ahead`` years on whose holidays are not entered: no year
    row, or a provisional one nobody has confirmed."""
    entered = set(
        CalendarYear.objects.exclude(source=PROVISIONAL_SOURCE, confirmed_by="").values_list("year", flat=True)
    )
    return [y for y in range(today.year, today.year + ahead + 1) if y not in entered]
