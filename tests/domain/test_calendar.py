"""Working-time arithmetic: examples a duty officer would check by hand, then properties.

The example tests use the official 2026 National Day arrangement (国庆 1-7 October
off; Sunday 20 September and Saturday 10 October worked). The property tests use
the full 2025 and 2026 State Council arrangements taken from ``chinese_calendar``
and compare against an independent minute-by-minute model.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from citykeeper.domain.calendar import DayRule, WeekTemplate, WorkingCalendar, WorkPeriod
from citykeeper.domain.errors import CalendarYearMissing, InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
WORKING_DAY = timedelta(minutes=450)

NATIONAL_DAY_2026 = [DayRule(date(2026, 10, d), is_workday=False, name="国庆节") for d in range(1, 8)] + [
    DayRule(date(2026, 9, 20), is_workday=True, name="国庆节调休"),
    DayRule(date(2026, 10, 10), is_workday=True, name="国庆节调休"),
]


def sh(*args: int) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def plain() -> WorkingCalendar:
    return WorkingCalendar(week=WeekTemplate.default())


@pytest.fixture
def year_2026() -> WorkingCalendar:
    return WorkingCalendar(week=WeekTemplate.default(), rules=NATIONAL_DAY_2026, known_years={2026})


def test_the_example_dates_fall_on_the_weekdays_the_tests_assume() -> None:
    # 2 March 2026 is a Monday; 20 September a Sunday; 10 October a Saturday.
    assert date(2026, 3, 2).weekday() == 0
    assert date(2026, 3, 6).weekday() == 4
    assert date(2026, 9, 20).weekday() == 6
    assert date(2026, 10, 9).weekday() == 4
    assert date(2026, 10, 10).weekday() == 5
    assert date(2026, 12, 31).weekday() == 3


# --- work periods and week templates ------------------------------------------


def test_a_work_period_reads_and_prints_as_clock_times() -> None:
    period = WorkPeriod.parse("08:30-12:00")
    assert period == WorkPeriod(510, 720)
    assert str(period) == "08:30-12:00"
    assert period.minutes == 210


def test_a_work_period_may_end_at_midnight_written_as_24_00() -> None:
    period = WorkPeriod.parse("00:00-24:00")
    assert (period.start_minute, period.end_minute) == (0, 1440)
    assert str(period) == "00:00-24:00"


@pytest.mark.parametrize("text", ["12:00-08:30", "09:00-09:00", "25:00-26:00", "08:60-09:00", "23:00-24:30", "8h-9h"])
def test_a_malformed_or_backwards_work_period_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        WorkPeriod.parse(text)
    assert caught.value.field == "period"


@pytest.mark.parametrize(("start", "end"), [(-1, 60), (60, 60), (0, 1441), (600, 500)])
def test_work_period_minutes_outside_the_day_are_refused(start: int, end: int) -> None:
    with pytest.raises(InvalidInput):
        WorkPeriod(start, end)


def test_the_default_week_is_civil_service_hours_monday_to_friday() -> None:
    week = WeekTemplate.default()
    workday = (WorkPeriod.parse("08:30-12:00"), WorkPeriod.parse("13:30-17:30"))
    assert week.days == (workday,) * 5 + ((), ())
    assert week.workday_periods == workday
    assert week.standard_day_minutes == 450


def test_the_around_the_clock_week_works_every_minute_of_every_day() -> None:
    week = WeekTemplate.around_the_clock()
    assert week.days == ((WorkPeriod(0, 1440),),) * 7
    assert week.standard_day_minutes == 1440


def test_swapped_workday_hours_come_from_the_first_day_that_works() -> None:
    wednesday_only = (WorkPeriod.parse("09:00-11:00"),)
    week = WeekTemplate(((), (), wednesday_only, (WorkPeriod.parse("14:00-15:00"),), (), (), ()))
    assert week.workday_periods == wednesday_only
    assert week.standard_day_minutes == 120


def test_a_week_without_working_days_has_no_standard_day() -> None:
    week = WeekTemplate(((),) * 7)
    assert week.workday_periods == ()
    assert week.standard_day_minutes == 0


def test_a_week_must_have_seven_days() -> None:
    with pytest.raises(InvalidInput) as caught:
        WeekTemplate(((),) * 6)
    assert caught.value.field == "week"


@pytest.mark.parametrize(
    "periods",
    [
        ("08:00-12:00", "11:00-13:00"),  # overlapping
        ("13:30-17:30", "08:30-12:00"),  # unsorted
    ],
)
def test_overlapping_or_unsorted_periods_in_a_day_are_refused(periods: tuple[str, ...]) -> None:
    day = tuple(WorkPeriod.parse(p) for p in periods)
    with pytest.raises(InvalidInput):
        WeekTemplate((day,) + ((),) * 6)


def test_touching_periods_are_allowed_and_count_as_one_stretch() -> None:
    day = (WorkPeriod.parse("08:00-12:00"), WorkPeriod.parse("12:00-13:00"))
    calendar = WorkingCalendar(week=WeekTemplate((day,) * 7))
    assert calendar.add(sh(2026, 3, 2, 11), 2 * HOUR) == sh(2026, 3, 2, 13)
    assert calendar.between(sh(2026, 3, 2, 7), sh(2026, 3, 2, 14)) == 5 * HOUR


def test_a_week_given_as_lists_is_stored_as_hashable_tuples() -> None:
    week = WeekTemplate([[WorkPeriod(60, 120)], [], [], [], [], [], []])  # type: ignore[arg-type]
    assert week.days[0] == (WorkPeriod(60, 120),)
    assert hash(week) == hash(WeekTemplate(((WorkPeriod(60, 120),),) + ((),) * 6))


def test_a_rule_for_a_date_time_instead_of_a_date_is_refused() -> None:
    with pytest.raises(InvalidInput):
        DayRule(datetime(2026, 10, 1), is_workday=False)  # type: ignore[arg-type]


def test_a_date_given_as_both_holiday_and_workday_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        WorkingCalendar(
            week=WeekTemplate.default(),
            rules=[DayRule(date(2026, 10, 1), False), DayRule(date(2026, 10, 1), True)],
        )
    assert caught.value.field == "rules"


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        WorkingCalendar(week=WeekTemplate.default(), tz="Mars/Olympus_Mons")
    assert caught.value.field == "tz"


# --- add on the default week -------------------------------------------------


def test_an_hour_added_mid_morning_finishes_an_hour_later(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 2, 10), HOUR) == sh(2026, 3, 2, 11)


def test_an_hour_added_before_lunch_skips_the_lunch_break(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 2, 11, 30), HOUR) == sh(2026, 3, 2, 14)


def test_an_hour_added_late_on_friday_finishes_on_monday_morning(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 6, 17), HOUR) == sh(2026, 3, 9, 9)


def test_half_an_hour_added_on_saturday_counts_from_monday_opening(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 7, 10), 30 * MINUTE) == sh(2026, 3, 9, 9)


def test_a_duration_that_exactly_fills_the_afternoon_ends_at_closing_time(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 2, 16, 30), HOUR) == sh(2026, 3, 2, 17, 30)


def test_a_duration_that_exactly_fills_the_morning_ends_at_noon_not_after_lunch(
    plain: WorkingCalendar,
) -> None:
    assert plain.add(sh(2026, 3, 2, 8, 30), timedelta(hours=3, minutes=30)) == sh(2026, 3, 2, 12)


def test_a_time_added_before_opening_counts_from_opening(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 2, 7), HOUR) == sh(2026, 3, 2, 9, 30)


def test_one_working_day_added_mid_morning_lands_at_the_same_time_next_day(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 3, 2, 10, 15), WORKING_DAY) == sh(2026, 3, 3, 10, 15)
    assert plain.add(sh(2026, 3, 6, 10, 15), 5 * WORKING_DAY) == sh(2026, 3, 13, 10, 15)


def test_a_zero_duration_returns_the_start_even_outside_working_hours(plain: WorkingCalendar) -> None:
    saturday = sh(2026, 3, 7, 10)
    assert plain.add(saturday, timedelta(0)) == saturday
    assert plain.add(saturday, MICROSECOND) == sh(2026, 3, 9, 8, 30) + MICROSECOND


def test_microseconds_are_carried_exactly_across_the_lunch_break(plain: WorkingCalendar) -> None:
    start = sh(2026, 3, 2, 11, 59, 59, 999_999)
    assert plain.add(start, 2 * MICROSECOND) == sh(2026, 3, 2, 13, 30, 0, 1)
    assert plain.between(start, sh(2026, 3, 2, 13, 30, 0, 1)) == 2 * MICROSECOND


def test_a_start_given_in_utc_is_answered_in_shanghai_time(plain: WorkingCalendar) -> None:
    result = plain.add(datetime(2026, 3, 2, 2, 0, tzinfo=UTC), HOUR)  # 10:00 in Shanghai
    assert result == sh(2026, 3, 2, 11)
    assert result.tzinfo == SHANGHAI
    assert (result.hour, result.minute) == (11, 0)


def test_a_utc_start_on_the_previous_utc_date_uses_the_shanghai_date(plain: WorkingCalendar) -> None:
    # 23:30 UTC on Sunday is 07:30 on Monday in Shanghai.
    assert plain.add(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), HOUR) == sh(2026, 3, 2, 9, 30)


# --- holidays and swapped workdays (2026 National Day) -------------------------


def test_an_hour_added_before_national_day_finishes_after_the_golden_week(
    year_2026: WorkingCalendar,
) -> None:
    assert year_2026.add(sh(2026, 9, 30, 17), HOUR) == sh(2026, 10, 8, 9)


def test_an_hour_added_late_on_friday_before_a_swapped_saturday_finishes_on_that_saturday(
    year_2026: WorkingCalendar,
) -> None:
    assert year_2026.add(sh(2026, 10, 9, 17), HOUR) == sh(2026, 10, 10, 9)


def test_a_swapped_sunday_works_with_ordinary_weekday_hours(year_2026: WorkingCalendar) -> None:
    assert year_2026.is_working(sh(2026, 9, 20, 10))
    assert not year_2026.is_working(sh(2026, 9, 20, 12, 30))
    assert year_2026.periods_on(date(2026, 9, 20)) == [
        (sh(2026, 9, 20, 8, 30), sh(2026, 9, 20, 12)),
        (sh(2026, 9, 20, 13, 30), sh(2026, 9, 20, 17, 30)),
    ]
    assert year_2026.add(sh(2026, 9, 19, 10), HOUR) == sh(2026, 9, 20, 9, 30)


def test_a_holiday_on_a_weekday_has_no_working_time(year_2026: WorkingCalendar) -> None:
    assert date(2026, 10, 1).weekday() == 3
    assert year_2026.periods_on(date(2026, 10, 1)) == []
    assert not year_2026.is_working(sh(2026, 10, 1, 10))


def test_an_ordinary_weekend_has_no_working_time(year_2026: WorkingCalendar) -> None:
    assert year_2026.periods_on(date(2026, 3, 7)) == []
    assert year_2026.periods_on(date(2026, 3, 8)) == []


def test_periods_are_reported_as_aware_shanghai_datetimes(year_2026: WorkingCalendar) -> None:
    periods = year_2026.periods_on(date(2026, 3, 2))
    assert periods == [
        (sh(2026, 3, 2, 8, 30), sh(2026, 3, 2, 12)),
        (sh(2026, 3, 2, 13, 30), sh(2026, 3, 2, 17, 30)),
    ]
    assert all(moment.tzinfo == SHANGHAI for period in periods for moment in period)


def test_a_swapped_workday_uses_the_workday_hours_even_when_the_weekday_has_others() -> None:
    monday = (WorkPeriod.parse("09:00-10:00"),)
    saturday_morning = (WorkPeriod.parse("06:00-07:00"),)
    week = WeekTemplate((monday, (), (), (), (), saturday_morning, ()))
    calendar = WorkingCalendar(week=week, rules=[DayRule(date(2026, 3, 7), True)])
    assert calendar.periods_on(date(2026, 3, 7)) == [(sh(2026, 3, 7, 9), sh(2026, 3, 7, 10))]
    assert calendar.periods_on(date(2026, 3, 14)) == [(sh(2026, 3, 14, 6), sh(2026, 3, 14, 7))]


# --- between -------------------------------------------------------------------


def test_working_time_across_a_lunch_break_leaves_the_break_out(plain: WorkingCalendar) -> None:
    assert plain.between(sh(2026, 3, 2, 11), sh(2026, 3, 2, 14)) == timedelta(hours=1, minutes=30)


def test_working_time_across_a_weekend_counts_friday_afternoon_and_monday_morning(
    plain: WorkingCalendar,
) -> None:
    assert plain.between(sh(2026, 3, 6, 16), sh(2026, 3, 9, 10)) == 3 * HOUR


def test_working_time_is_negative_when_the_end_comes_before_the_start(plain: WorkingCalendar) -> None:
    assert plain.between(sh(2026, 3, 9, 10), sh(2026, 3, 6, 16)) == -3 * HOUR
    assert plain.between(sh(2026, 3, 2, 14), sh(2026, 3, 2, 11)) == -timedelta(hours=1, minutes=30)


def test_there_is_no_working_time_between_saturday_and_sunday(plain: WorkingCalendar) -> None:
    assert plain.between(sh(2026, 3, 7, 9), sh(2026, 3, 8, 18)) == timedelta(0)
    assert plain.between(sh(2026, 3, 2, 10), sh(2026, 3, 2, 10)) == timedelta(0)


def test_working_time_across_national_day_counts_only_the_days_either_side(
    year_2026: WorkingCalendar,
) -> None:
    # 30 Sep 09:00-17:30 is 7 h; 8 Oct 08:30-09:00 is 30 min.
    assert year_2026.between(sh(2026, 9, 30, 9), sh(2026, 10, 8, 9)) == timedelta(hours=7, minutes=30)


def test_working_time_between_instants_in_different_zones_compares_instants(plain: WorkingCalendar) -> None:
    # 02:00 UTC is 10:00 in Shanghai.
    assert plain.between(datetime(2026, 3, 2, 2, tzinfo=UTC), sh(2026, 3, 2, 11, 15)) == timedelta(hours=1, minutes=15)


# --- next working instant and is_working ------------------------------------------


def test_the_next_working_instant_of_a_working_moment_is_that_moment(plain: WorkingCalendar) -> None:
    moment = sh(2026, 3, 2, 10, 0, 0, 1)
    assert plain.next_working_instant(moment) == moment


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (sh(2026, 3, 2, 12), sh(2026, 3, 2, 13, 30)),  # lunch starts: periods are half-open
        (sh(2026, 3, 2, 17, 30), sh(2026, 3, 3, 8, 30)),  # closing time
        (sh(2026, 3, 7, 10), sh(2026, 3, 9, 8, 30)),  # Saturday
        (sh(2026, 9, 30, 18), sh(2026, 10, 8, 8, 30)),  # eve of the golden week
    ],
)
def test_the_next_working_instant_outside_hours_is_the_next_opening(
    year_2026: WorkingCalendar, at: datetime, expected: datetime
) -> None:
    result = year_2026.next_working_instant(at)
    assert result == expected
    assert result.tzinfo == SHANGHAI


def test_period_boundaries_are_half_open(plain: WorkingCalendar) -> None:
    assert plain.is_working(sh(2026, 3, 2, 8, 30))
    assert not plain.is_working(sh(2026, 3, 2, 8, 30) - MICROSECOND)
    assert plain.is_working(sh(2026, 3, 2, 12) - MICROSECOND)
    assert not plain.is_working(sh(2026, 3, 2, 12))


# --- the missing-year rule ---------------------------------------------------------


def test_an_hour_added_on_new_years_eve_needs_no_rows_for_next_year(year_2026: WorkingCalendar) -> None:
    assert year_2026.add(sh(2026, 12, 31, 16), HOUR) == sh(2026, 12, 31, 17)
    assert year_2026.add(sh(2026, 12, 31, 16, 30), HOUR) == sh(2026, 12, 31, 17, 30)


def test_working_days_added_on_new_years_eve_refuse_to_guess_next_years_holidays(
    year_2026: WorkingCalendar,
) -> None:
    with pytest.raises(CalendarYearMissing) as caught:
        year_2026.add(sh(2026, 12, 31, 16), 3 * WORKING_DAY)
    assert caught.value.year == 2027
    assert caught.value.field == "calendar"


def test_working_time_into_next_year_refuses_to_guess_next_years_holidays(year_2026: WorkingCalendar) -> None:
    with pytest.raises(CalendarYearMissing) as caught:
        year_2026.between(sh(2026, 12, 31, 16), sh(2027, 1, 4, 10))
    assert caught.value.year == 2027
    with pytest.raises(CalendarYearMissing):
        year_2026.between(sh(2027, 1, 4, 10), sh(2026, 12, 31, 16))


def test_working_time_up_to_midnight_on_new_years_eve_needs_no_rows_for_next_year(
    year_2026: WorkingCalendar,
) -> None:
    assert year_2026.between(sh(2026, 12, 31, 16), sh(2027, 1, 1)) == timedelta(hours=1, minutes=30)


def test_questions_about_a_day_in_an_unknown_year_are_refused(year_2026: WorkingCalendar) -> None:
    with pytest.raises(CalendarYearMissing) as caught:
        year_2026.is_working(sh(2025, 6, 2, 10))
    assert caught.value.year == 2025
    with pytest.raises(CalendarYearMissing):
        year_2026.periods_on(date(2027, 1, 4))
    with pytest.raises(CalendarYearMissing):
        year_2026.next_working_instant(sh(2026, 12, 31, 18))


def test_a_calendar_without_known_years_works_in_any_year(plain: WorkingCalendar) -> None:
    assert plain.add(sh(2026, 12, 31, 16), 3 * WORKING_DAY) == sh(2027, 1, 5, 16)


# --- the 24-hour calendar --------------------------------------------------------------


def test_the_24_hour_calendar_adds_like_a_clock() -> None:
    calendar = WorkingCalendar.around_the_clock()
    start = sh(2026, 3, 7, 23, 0, 0, 7)  # a Saturday night
    assert calendar.add(start, timedelta(hours=5)) == sh(2026, 3, 8, 4, 0, 0, 7)
    assert calendar.add(start, timedelta(days=3650)) == start + timedelta(days=3650)


def test_the_24_hour_calendar_measures_like_a_clock() -> None:
    calendar = WorkingCalendar.around_the_clock()
    a, b = sh(2026, 10, 1, 3), sh(2031, 1, 1, 12, 30)
    assert calendar.between(a, b) == b - a
    assert calendar.between(b, a) == a - b


def test_the_24_hour_calendar_ignores_known_years_and_never_closes() -> None:
    calendar = WorkingCalendar.around_the_clock()
    assert calendar.known_years is None
    assert calendar.is_working(sh(2099, 12, 31, 23, 59))
    assert calendar.next_working_instant(sh(2099, 1, 1, 3)) == sh(2099, 1, 1, 3)
    assert calendar.periods_on(date(2099, 6, 1)) == [(sh(2099, 6, 1), sh(2099, 6, 2))]


def test_the_24_hour_calendar_answers_in_its_own_zone() -> None:
    calendar = WorkingCalendar.around_the_clock(tz="UTC")
    result = calendar.add(sh(2026, 3, 2, 10), HOUR)
    assert result.tzinfo == ZoneInfo("UTC")
    assert (result.hour, result.minute) == (3, 0)


def test_the_24_hour_calendar_counts_real_hours_across_a_daylight_saving_change() -> None:
    calendar = WorkingCalendar.around_the_clock(tz="America/New_York")
    start = datetime(2026, 3, 7, 12, tzinfo=NEW_YORK)  # EST; clocks go forward on 8 March
    assert calendar.add(start, timedelta(hours=24)) == datetime(2026, 3, 8, 13, tzinfo=NEW_YORK)
    walked = WorkingCalendar(week=WeekTemplate.around_the_clock(), known_years={2026}, tz="America/New_York")
    assert walked.between(datetime(2026, 3, 8, tzinfo=NEW_YORK), datetime(2026, 3, 9, tzinfo=NEW_YORK)) == (
        timedelta(hours=23)
    )


def test_an_office_week_keeps_wall_clock_hours_across_a_daylight_saving_change() -> None:
    calendar = WorkingCalendar(week=WeekTemplate.default(), tz="America/New_York")
    friday = datetime(2026, 3, 6, 17, tzinfo=NEW_YORK)
    assert calendar.add(friday, HOUR) == datetime(2026, 3, 9, 9, tzinfo=NEW_YORK)
    assert calendar.between(friday, datetime(2026, 3, 9, 9, tzinfo=NEW_YORK)) == HOUR


# --- refusals ----------------------------------------------------------------------------


def test_a_naive_datetime_is_refused_everywhere(plain: WorkingCalendar) -> None:
    naive = datetime(2026, 3, 2, 10)
    with pytest.raises(InvalidInput) as caught:
        plain.add(naive, HOUR)
    assert caught.value.field == "start"
    with pytest.raises(InvalidInput):
        plain.between(sh(2026, 3, 2, 10), naive)
    with pytest.raises(InvalidInput):
        plain.is_working(naive)
    with pytest.raises(InvalidInput):
        plain.next_working_instant(naive)
    with pytest.raises(InvalidInput):
        WorkingCalendar.around_the_clock().add(naive, HOUR)


def test_a_negative_duration_is_refused(plain: WorkingCalendar) -> None:
    with pytest.raises(InvalidInput) as caught:
        plain.add(sh(2026, 3, 2, 10), -MICROSECOND)
    assert caught.value.field == "duration"
    with pytest.raises(InvalidInput):
        WorkingCalendar.around_the_clock().add(sh(2026, 3, 2, 10), -HOUR)


def test_a_week_with_no_working_time_is_refused_instead_of_looping_forever() -> None:
    calendar = WorkingCalendar(week=WeekTemplate(((),) * 7))
    with pytest.raises(InvalidInput) as caught:
        calendar.add(sh(2026, 3, 2, 10), HOUR)
    assert caught.value.field == "calendar"
    assert caught.value.message.startswith("The working calendar has no working time")
    with pytest.raises(InvalidInput):
        calendar.next_working_instant(sh(2026, 3, 2, 10))
    assert calendar.between(sh(2026, 3, 2), sh(2027, 3, 2)) == timedelta(0)


def test_holidays_on_every_working_day_for_over_ten_years_are_refused() -> None:
    week = WeekTemplate(((WorkPeriod.parse("09:00-10:00"),),) + ((),) * 6)
    holidays = [DayRule(date(2026, 3, 2) + timedelta(weeks=n), False) for n in range(600)]
    calendar = WorkingCalendar(week=week, rules=holidays)
    # Every Monday for 600 weeks (~11.5 years) is a holiday: more than the walk allows.
    with pytest.raises(InvalidInput):
        calendar.add(sh(2026, 3, 2, 8), HOUR)
    assert calendar.add(sh(2026, 3, 2, 8), timedelta(0)) == sh(2026, 3, 2, 8)


# --- properties ----------------------------------------------------------------------------


@functools.cache
def _official_rules() -> tuple[DayRule, ...]:
    constants = pytest.importorskip("chinese_calendar.constants")
    rules = [
        DayRule(day, is_workday=False, name=name)
        for day, name in constants.holidays.items()
        if day.year in (2025, 2026)
    ]
    rules += [
        DayRule(day, is_workday=True, name=name) for day, name in constants.workdays.items() if day.year in (2025, 2026)
    ]
    return tuple(rules)


@functools.cache
def official() -> WorkingCalendar:
    """The default week plus the State Council's 2025 and 2026 arrangements."""
    return WorkingCalendar(week=WeekTemplate.default(), rules=_official_rules(), known_years={2025, 2026})


def test_the_official_rules_include_the_2025_spring_festival() -> None:
    calendar = official()
    # Monday 27 Jan 2025 works; 28 Jan - 4 Feb off; Saturday 8 Feb is a swapped workday.
    assert calendar.add(sh(2025, 1, 27, 17), HOUR) == sh(2025, 2, 5, 9)
    assert calendar.is_working(sh(2025, 2, 8, 10))
    assert calendar.is_working(sh(2025, 1, 26, 10))


# Start anywhere in 2025-2026 but early enough that 20 working days stay in 2026.
starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2026, 11, 30),
    timezones=st.sampled_from([SHANGHAI, UTC]),
)
MAX_MINUTES = 20 * 450
durations = st.one_of(
    st.integers(0, MAX_MINUTES).map(lambda n: timedelta(minutes=n)),
    st.integers(0, MAX_MINUTES * 60).map(lambda n: timedelta(seconds=n)),
    st.integers(0, MAX_MINUTES * 60 * 10**6).map(lambda n: timedelta(microseconds=n)),
)
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(start=starts, duration=durations)
def test_the_working_time_between_a_start_and_its_deadline_is_the_duration(
    start: datetime, duration: timedelta
) -> None:
    calendar = official()
    end = calendar.add(start, duration)
    assert end >= start
    assert end - start >= duration
    assert end.tzinfo == SHANGHAI
    assert calendar.between(start, end) == duration
    assert calendar.between(end, start) == -duration


@PROPERTY
@given(start=starts, d1=durations, d2=durations)
def test_a_longer_duration_always_ends_strictly_later(start: datetime, d1: timedelta, d2: timedelta) -> None:
    calendar = official()
    shorter, longer = sorted((d1, d2))
    if shorter == longer:
        assert calendar.add(start, shorter) == calendar.add(start, longer)
    else:
        assert calendar.add(start, shorter) < calendar.add(start, longer)


@PROPERTY
@given(start=starts, d1=durations, d2=durations)
def test_adding_in_two_steps_equals_adding_the_sum(start: datetime, d1: timedelta, d2: timedelta) -> None:
    # Because add returns the *earliest* qualifying instant, a deadline that ends at
    # a period's end stays there (it does not jump to the next opening), so the
    # two-step addition can never lose or gain the gap: this holds for all
    # d1, d2 >= 0, including zero and non-working starts.
    # The sum must stay inside the years the calendar knows (starts leave 20 working days).
    assume(d1 + d2 <= timedelta(minutes=MAX_MINUTES))
    calendar = official()
    assert calendar.add(calendar.add(start, d1), d2) == calendar.add(start, d1 + d2)


@PROPERTY
@given(start=starts, duration=durations)
def test_moving_the_start_to_the_next_opening_changes_only_zero_durations(start: datetime, duration: timedelta) -> None:
    # The identity that does need a condition: a start outside working hours may be
    # moved to the next opening only when something is actually added.
    calendar = official()
    opening = calendar.next_working_instant(start)
    if duration > timedelta(0) or calendar.is_working(start):
        assert calendar.add(opening, duration) == calendar.add(start, duration)
    else:
        assert opening > start
        assert calendar.add(start, duration) == start
        assert calendar.add(opening, duration) == opening


@PROPERTY
@given(start=starts, duration=durations.filter(lambda d: d > timedelta(0)))
def test_a_positive_deadline_is_inside_or_at_the_end_of_a_working_period(start: datetime, duration: timedelta) -> None:
    calendar = official()
    end = calendar.add(start, duration)
    assert calendar.is_working(end - MICROSECOND)


@PROPERTY
@given(a=starts, b=starts, c=starts)
def test_working_time_adds_up_over_consecutive_intervals_in_any_order(a: datetime, b: datetime, c: datetime) -> None:
    calendar = official()
    assert calendar.between(a, c) == calendar.between(a, b) + calendar.between(b, c)
    assert abs(calendar.between(a, b)) <= abs(b - a)


# An independent model: minute by minute, days classified by chinese_calendar itself.
OPEN_MINUTES = frozenset(range(510, 720)) | frozenset(range(810, 1050))


@functools.cache
def _model_day_works(day: date) -> bool:
    import chinese_calendar

    return chinese_calendar.is_workday(day)


def _model_minute_works(moment: datetime) -> bool:
    return moment.hour * 60 + moment.minute in OPEN_MINUTES and _model_day_works(moment.date())


def _model_add(start: datetime, minutes: int) -> datetime:
    moment = start
    while minutes > 0:
        if _model_minute_works(moment):
            minutes -= 1
        moment += MINUTE  # no DST in Shanghai, so wall-clock steps are real minutes
    return moment


minute_starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(SHANGHAI)
).map(lambda moment: moment.replace(second=0, microsecond=0))


@settings(max_examples=100, deadline=None)
@given(start=minute_starts, minutes=st.integers(0, 2 * 450))
def test_deadlines_agree_with_a_minute_by_minute_model_of_the_official_calendar(start: datetime, minutes: int) -> None:
    _official_rules()  # skips when chinese_calendar is not installed
    expected = _model_add(start, minutes)
    assert official().add(start, timedelta(minutes=minutes)) == expected


@settings(max_examples=100, deadline=None)
@given(a=minute_starts, span=st.integers(0, 6 * 1440))
def test_working_time_agrees_with_a_minute_by_minute_model_of_the_official_calendar(a: datetime, span: int) -> None:
    _official_rules()
    b = a + timedelta(minutes=span)
    expected = sum(_model_minute_works(a + n * MINUTE) for n in range(span))
    assert official().between(a, b) == timedelta(minutes=expected)


@settings(max_examples=100, deadline=None)
@given(start=starts, duration=st.integers(0, 400 * 24 * 3600 * 10**6).map(lambda n: timedelta(microseconds=n)))
def test_the_24_hour_fast_path_agrees_with_walking_the_days(start: datetime, duration: timedelta) -> None:
    fast = WorkingCalendar.around_the_clock()
    walked = WorkingCalendar(week=WeekTemplate.around_the_clock(), known_years=range(2024, 2030))
    end = fast.add(start, duration)
    assert end == walked.add(start, duration)
    assert fast.between(start, end) == walked.between(start, end) == duration
