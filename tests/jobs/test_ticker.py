"""The ticker fires what is due, once, however many tickers run."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from citykeeper.jobs.ticker import tick
from citykeeper.services.deadlines import OVERDUE, WARNING
from citykeeper.store.models import Case, CaseEvent
from tests.factories import MONDAY_9AM, make_city, make_personas, report_case

MIN = dt.timedelta(minutes=1)


def test_a_report_left_alone_gets_a_warning_at_80_percent_and_an_overdue_mark_at_the_limit(city, people):
    case = report_case(city, people)  # accept limit: 15 minutes
    assert tick(MONDAY_9AM + 11 * MIN).warnings == 0
    report = tick(MONDAY_9AM + 12 * MIN)
    assert (report.warnings, report.overdue) == (1, 0)
    report = tick(MONDAY_9AM + 15 * MIN)
    assert (report.warnings, report.overdue) == (0, 1)
    case.refresh_from_db()
    assert case.stage_overdue and case.next_deadline_at is None
    kinds = list(case.events.values_list("kind", "at"))
    assert kinds[-2:] == [(WARNING, MONDAY_9AM + 12 * MIN), (OVERDUE, MONDAY_9AM + 15 * MIN)]


def test_a_tick_long_after_both_instants_fires_both_in_order(city, people):
    case = report_case(city, people)
    report = tick(MONDAY_9AM + dt.timedelta(hours=3))
    assert (report.warnings, report.overdue) == (1, 1)
    assert list(case.events.values_list("kind", flat=True)) == ["report", WARNING, OVERDUE]


def test_the_ticker_touches_only_due_cases(city, people, django_assert_num_queries):
    due = report_case(city, people)
    later = report_case(city, people, at=MONDAY_9AM + dt.timedelta(hours=1))
    tick(MONDAY_9AM + 13 * MIN)
    assert CaseEvent.objects.filter(case=later).count() == 1
    assert CaseEvent.objects.filter(case=due).count() == 2
    with django_assert_num_queries(1):  # nothing due: one indexed query, nothing else
        assert tick(MONDAY_9AM + 13 * MIN).warnings == 0


def test_an_overdue_case_keeps_its_outcome_when_it_finally_moves(city, people):
    from citykeeper.services import cases as svc

    case = report_case(city, people)
    tick(MONDAY_9AM + dt.timedelta(hours=1))
    case = svc.accept(case.number, actor=people.operator, version=1, at=MONDAY_9AM + dt.timedelta(hours=1))
    accept_event = case.events.get(kind="accept")
    assert accept_event.outcome["stage"] == "accept" and accept_event.outcome["on_time"] is False
    assert case.stage == "file" and not case.stage_overdue


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_tickers_running_at_once_never_fire_a_mark_twice():
    city = make_city()
    people = make_personas(city)
    cases = [report_case(city, people, at=MONDAY_9AM + i * MIN) for i in range(12)]
    now = MONDAY_9AM + dt.timedelta(hours=2)
    barrier = threading.Barrier(2)
    reports = []

    def run():
        try:
            barrier.wait()
            reports.append(tick(now, batch=5))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(reports) == 2
    assert sum(r.warnings for r in reports) == 12 and sum(r.overdue for r in reports) == 12
    for case in cases:
        kinds = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("kind", flat=True))
        assert kinds == ["report", WARNING, OVERDUE]
    assert not Case.objects.filter(next_deadline_at__isnull=False).exists()
