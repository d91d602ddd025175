"""Evaluation periods: their shapes, neighbours (环比, 同比), splits and refusals."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.periods import Period, PeriodKind, parse, token

D = date


def refused(make) -> str | None:
    with pytest.raises(InvalidInput) as caught:
        make()
    return caught.value.field


def test_a_week_is_an_iso_week_from_monday_to_sunday():
    # 1 January 2026 is a Thursday, so ISO week 1 of 2026 starts on Monday 29 December 2025
    assert Period.week(2026, 1) == Period(D(2025, 12, 29), D(2026, 1, 4), PeriodKind.WEEK)
    assert Period.week_of(D(2026, 1, 4)) == Period.week(2026, 1)
    assert Period.week_of(D(2026, 11, 21)).start == D(2026, 11, 16)


def test_months_quarters_and_years_are_whole_calendar_spans():
    assert Period.month(2024, 2) == Period(D(2024, 2, 1), D(2024, 2, 29), PeriodKind.MONTH)
    assert Period.quarter(2026, 3) == Period(D(2026, 7, 1), D(2026, 9, 30), PeriodKind.QUARTER)
    assert Period.year(2026) == Period(D(2026, 1, 1), D(2026, 12, 31), PeriodKind.YEAR)
    assert Period.month(2026, 2).days == 28


def test_out_of_range_numbers_are_refused_by_field():
    assert refused(lambda: Period.week(2025, 53)) == "week"  # 2025 has 52 ISO weeks
    assert refused(lambda: Period.month(2026, 13)) == "month"
    assert refused(lambda: Period.quarter(2026, 0)) == "quarter"


def test_a_period_that_ends_before_it_starts_is_refused():
    assert refused(lambda: Period.custom(D(2026, 3, 2), D(2026, 3, 1))) == "end"


def test_a_period_whose_dates_do_not_fit_its_kind_is_refused():
    assert refused(lambda: Period(D(2026, 3, 2), D(2026, 3, 31), PeriodKind.MONTH)) == "kind"
    assert refused(lambda: Period(D(2026, 11, 17), D(2026, 11, 23), PeriodKind.WEEK)) == "kind"  # Tuesday start
    assert refused(lambda: Period(D(2026, 2, 1), D(2026, 4, 30), PeriodKind.QUARTER)) == "kind"
    assert refused(lambda: Period(D(2026, 1, 1), D(2026, 1, 1), "fortnight")) == "kind"
    assert refused(lambda: Period(datetime(2026, 1, 1, 8), D(2026, 1, 2))) == "start"


def test_a_period_may_not_start_in_the_future():
    today = D(2026, 11, 21)
    assert refused(lambda: Period.month(2026, 12).validate(today)) == "start"
    assert refused(lambda: Period.custom(D(2026, 11, 22), D(2026, 11, 22)).validate(today)) == "start"


def test_a_period_that_has_started_but_not_ended_is_allowed_and_provisional():
    today = D(2026, 11, 21)
    this_month = Period.month(2026, 11)
    assert this_month.validate(today) is this_month
    assert this_month.provisional(today)
    assert Period.custom(D(2026, 11, 1), today).provisional(today)  # today is not over yet
    assert not Period.month(2026, 10).provisional(today)


def test_previous_is_the_period_before_of_the_same_kind_and_length():
    assert Period.week(2026, 1).previous() == Period.week(2025, 52)
    assert Period.month(2026, 1).previous() == Period.month(2025, 12)
    assert Period.month(2026, 3).previous() == Period.month(2026, 2)
    assert Period.quarter(2026, 1).previous() == Period.quarter(2025, 4)
    assert Period.quarter(2026, 3).previous() == Period.quarter(2026, 2)
    assert Period.year(2026).previous() == Period.year(2025)
    # 10 days, 11–20 March → the 10 days before: 1–10 March
    assert Period.custom(D(2026, 3, 11), D(2026, 3, 20)).previous() == Period.custom(D(2026, 3, 1), D(2026, 3, 10))


def test_year_ago_is_the_same_period_one_year_earlier():
    assert Period.month(2026, 2).year_ago() == Period.month(2025, 2)
    assert Period.quarter(2026, 4).year_ago() == Period.quarter(2025, 4)
    assert Period.year(2026).year_ago() == Period.year(2025)
    assert Period.week(2026, 10).year_ago() == Period.week(2025, 10)
    # 2026 has an ISO week 53, 2025 does not: its last week stands in
    assert Period.week(2026, 53).year_ago() == Period.week(2025, 52)
    leap = Period.custom(D(2024, 2, 1), D(2024, 2, 29)).year_ago()
    assert (leap.start, leap.end) == (D(2023, 2, 1), D(2023, 2, 28))


def test_split_gives_whole_months_and_the_days_left_over():
    s = Period.custom(D(2026, 1, 20), D(2026, 4, 10)).split()
    assert s.months == (D(2026, 2, 1), D(2026, 3, 1))
    assert s.days == ((D(2026, 1, 20), D(2026, 1, 31)), (D(2026, 4, 1), D(2026, 4, 10)))
    assert Period.quarter(2026, 1).split().months == (D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1))
    assert Period.quarter(2026, 1).split().days == ()
    inside = Period.custom(D(2026, 3, 5), D(2026, 3, 9)).split()
    assert (inside.months, inside.days) == ((), ((D(2026, 3, 5), D(2026, 3, 9)),))
    week = Period.week(2026, 1).split()  # across New Year
    assert (week.months, week.days) == ((), ((D(2025, 12, 29), D(2026, 1, 4)),))


def test_periods_are_named_as_bulletins_name_them():
    assert Period.week(2026, 1).label() == "2026年第1周"
    assert Period.month(2026, 3).label() == "2026年3月"
    assert Period.quarter(2026, 2).label() == "2026年第2季度"
    assert Period.year(2026).label() == "2026年"
    assert Period.custom(D(2026, 3, 5), D(2026, 3, 9)).label() == "2026-03-05至2026-03-09"


@pytest.mark.parametrize(
    "text, start, end, kind",
    [
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "year"),
        ("2026-10", date(2026, 10, 1), date(2026, 10, 31), "month"),
        ("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), "quarter"),
        ("2026-W01", date(2025, 12, 29), date(2026, 1, 4), "week"),
        ("2026-10-01..2026-10-15", date(2026, 10, 1), date(2026, 10, 15), "custom"),
    ],
)
def test_a_period_is_read_from_its_text_and_written_back_the_same(text, start, end, kind):
    period = parse(text)
    assert (period.start, period.end, period.kind.value) == (start, end, kind)
    assert token(period) == text


@pytest.mark.parametrize(
    "text, words",
    [
        ("2026-13", "A month is 1 to 12"),
        ("2026-02-30..2026-03-01", "not a date range"),
        ("2026-10-15..2026-10-01", "ends (2026-10-01) before it starts"),
        ("last month", "Unknown period"),
        ("", "Unknown period"),
    ],
)
def test_a_period_text_that_is_not_one_is_refused_with_the_field(text, words):
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert words in str(refused.value) and refused.value.field in ("period", "month", "end")
