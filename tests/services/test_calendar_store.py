"""The stored calendar: seeding, the per-process cache and its refresh."""

from __future__ import annotations

import datetime as dt

from citykeeper.services import calendar as cal
from citykeeper.store.models import CalendarDay, CalendarYear
from tests.factories import local


def test_seeding_writes_the_2026_national_day_holidays_and_swapped_workdays(db):
    cal.seed_calendar([2026])
    assert CalendarDay.objects.get(day=dt.date(2026, 10, 1)).is_workday is False
    assert CalendarDay.objects.get(day=dt.date(2026, 10, 10)).is_workday is True  # Saturday worked
    assert CalendarYear.objects.filter(year=2026).exists()
    assert cal.missing_years(dt.date(2026, 11, 21)) == [2027]


def test_a_provisional_year_is_counted_on_but_still_missing_until_someone_confirms_it(db):
    cal.seed_calendar([2026])
    year = CalendarYear.objects.create(year=2027, source=cal.PROVISIONAL_SOURCE)
    cal.invalidate()
    assert cal.working_calendar().is_working(local(2027, 1, 4, 9, 0))  # deadlines may reach it
    assert cal.missing_years(dt.date(2026, 11, 21)) == [2027]  # the warning stays
    year.confirmed_by = "周杰"
    year.save()
    assert cal.missing_years(dt.date(2026, 11, 21)) == []


def test_an_edit_of_an_existing_day_reaches_another_process_once_its_cache_expires(db, monkeypatch):
    cal.seed_calendar([2026])
    calendar = cal.working_calendar()
    assert not calendar.is_working(local(2026, 10, 7, 9, 0))  # the last day of the National Day holiday
    # Another process edits a day; this process has not been told (no invalidate()).
    day = CalendarDay.objects.get(day=dt.date(2026, 10, 7))
    day.is_workday = True
    day.save()
    assert cal.working_calendar() is calendar  # still within the cache window
    monkeypatch.setattr(cal, "_CACHE_SECONDS", 0)
    refreshed = cal.working_calendar()
    assert refreshed is not calendar
    assert refreshed.is_working(local(2026, 10, 7, 9, 0))


def test_seeding_twice_keeps_an_administrators_edit(db):
    cal.seed_calendar([2026])
    CalendarDay.objects.filter(day=dt.date(2026, 10, 7)).update(name="本地调整")
    assert cal.seed_calendar([2026])["days"] == 0
    assert CalendarDay.objects.get(day=dt.date(2026, 10, 7)).name == "本地调整"
