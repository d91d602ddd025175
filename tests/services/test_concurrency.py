"""Two people moving one case at the same moment: exactly one wins."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from citykeeper.domain.errors import StaleVersion
from citykeeper.services import cases as svc
from citykeeper.store.models import Case, CaseEvent
from tests.factories import MONDAY_9AM, make_city, make_personas, report_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]


def race(*calls):
    """Start every call at the same barrier in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # collected and asserted by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_simultaneous_moves_on_one_case_leave_exactly_one_winner():
    city = make_city()
    people = make_personas(city)
    case = report_case(city, people)
    at = MONDAY_9AM + dt.timedelta(minutes=3)
    results = race(
        lambda: svc.accept(case.number, actor=people.operator, version=case.version, at=at),
        lambda: svc.reject(
            case.number, actor=people.operator, version=case.version, at=at, data=svc.MoveInput(reason="重复上报")
        ),
    )
    winners = [r for r in results if isinstance(r, Case)]
    losers = [r for r in results if isinstance(r, StaleVersion)]
    assert len(winners) == 1 and len(losers) == 1, results
    stored = Case.objects.get(pk=case.pk)
    assert stored.version == 2 and stored.state == winners[0].state
    assert CaseEvent.objects.filter(case=case).count() == 2


def test_the_same_idempotency_key_sent_twice_at_once_makes_one_case():
    city = make_city()
    people = make_personas(city)
    results = race(*[(lambda: report_case(city, people, idempotency_key="device-42-report-7")) for _ in range(2)])
    assert all(isinstance(r, Case) for r in results), results
    assert results[0].pk == results[1].pk
    assert Case.objects.filter(idempotency_key="device-42-report-7").count() == 1
