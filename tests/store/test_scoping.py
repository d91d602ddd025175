"""restrict(user, action): who sees and moves which cases."""

from __future__ import annotations

import datetime as dt

import pytest

from citykeeper.domain.errors import NotPermitted
from citykeeper.services import cases as svc
from citykeeper.store.models import Case, CaseEvent
from tests.factories import MONDAY_9AM, report_case


def visible(user, action="view"):
    return set(Case.objects.restrict(user, action).values_list("number", flat=True))


def test_a_district_operator_sees_only_their_districts_cases(city, people):
    mine = report_case(city, people)
    theirs = report_case(city, people, grid=city.other_grid)
    assert visible(people.operator) == {mine.number}
    assert visible(people.outside_operator) == {theirs.number}
    assert visible(people.city_operator) == {mine.number, theirs.number}


def test_a_district_operator_cannot_move_another_districts_case_and_nothing_is_written(city, people):
    case = report_case(city, people)
    before = CaseEvent.objects.count()
    with pytest.raises(NotPermitted, match="outside your scope"):
        svc.accept(
            case.number, actor=people.outside_operator, version=case.version, at=MONDAY_9AM + dt.timedelta(minutes=1)
        )
    assert CaseEvent.objects.count() == before
    assert Case.objects.get(pk=case.pk).state == "reported"


def test_a_unit_handler_sees_only_cases_dispatched_to_their_unit(city, people):
    case = report_case(city, people)
    assert visible(people.handler) == set()
    at = MONDAY_9AM
    case = svc.accept(case.number, actor=people.operator, version=1, at=at)
    case = svc.file(
        case.number, actor=people.shift_lead, version=2, at=at, data=svc.MoveInput(condition=city.condition)
    )
    case = svc.dispatch(case.number, actor=people.dispatcher, version=3, at=at, data=svc.MoveInput(unit=city.unit))
    assert visible(people.handler) == {case.number}
    assert visible(people.other_handler) == set()
    with pytest.raises(NotPermitted):
        svc.dispose(case.number, actor=people.other_handler, version=4, at=at, data=svc.MoveInput(reason="不是我们的"))


def test_a_citizen_sees_only_their_own_reports(city, people):
    own = report_case(city, people, source="citizen")
    report_case(city, people)
    assert visible(people.citizen) == {own.number}
    assert visible(people.citizen, "act") == {own.number}


def test_an_anonymous_or_inactive_user_sees_nothing(city, people):
    from django.contrib.auth.models import AnonymousUser

    report_case(city, people)
    people.operator.is_active = False
    assert visible(AnonymousUser()) == set()
    assert visible(people.operator) == set()


def test_staff_without_a_scope_area_see_nothing(city, people):
    report_case(city, people)
    people.operator.scope_area = None
    assert visible(people.operator) == set()


def test_the_predicate_on_a_loaded_case_agrees_with_restrict_for_every_persona_and_action(city, people):
    from dataclasses import fields

    from citykeeper.store.querysets import may

    at = MONDAY_9AM
    report_case(city, people, source="citizen")
    report_case(city, people, grid=city.other_grid)
    dispatched = report_case(city, people)
    dispatched = svc.accept(dispatched.number, actor=people.operator, version=1, at=at)
    dispatched = svc.file(
        dispatched.number, actor=people.shift_lead, version=2, at=at, data=svc.MoveInput(condition=city.condition)
    )
    svc.dispatch(dispatched.number, actor=people.dispatcher, version=3, at=at, data=svc.MoveInput(unit=city.unit))
    cases = list(Case.objects.all())
    superuser = people.leader
    superuser.is_superuser = True
    checked = 0
    for persona in [getattr(people, f.name) for f in fields(people)]:
        for action in ("view", "act"):
            listed = visible(persona, action)
            assert {c.number for c in cases if may(persona, c, action)} == listed, (persona.username, action)
            checked += 1
    assert checked == 2 * len(fields(people))
    assert visible(superuser) == {c.number for c in cases}
