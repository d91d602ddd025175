"""Filing proposes the responsible unit with its reason; dispatch records overrides."""

from __future__ import annotations

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.services import cases as svc
from citykeeper.services import routing
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import RoutingRule, Unit
from tests.factories import MONDAY_9AM, make_component, report_case


def filed(city, people, **kw):
    case = report_case(city, people, **kw)
    case = svc.accept(case.number, actor=people.operator, version=case.version, at=MONDAY_9AM)
    return svc.file(
        case.number,
        actor=people.shift_lead,
        version=case.version,
        at=MONDAY_9AM,
        data=MoveInput(condition=city.condition),
    )


def district_rule(city, unit=None, **kw):
    return RoutingRule.objects.create(
        kind="area_category", area=city.district, category=city.category, unit=unit or city.unit, **kw
    )


def test_filing_proposes_the_unit_of_the_matching_rule_and_writes_it_on_the_event(city, people):
    rule = district_rule(city)
    case = filed(city, people)
    assert (case.proposed_unit_id, case.routing_step, case.routing_rule_id) == (city.unit.pk, "area_category", rule.pk)
    event = case.events.get(kind="file")
    assert event.data["proposed_unit"] == city.unit.code and event.data["routing_step"] == "area_category"


def test_a_case_about_a_component_goes_to_its_maintainer_before_any_rule(city, people):
    district_rule(city)
    component = make_component(city, maintainer=city.other_unit)
    case = report_case(city, people)
    case.component = component
    case.save(update_fields=["component"])
    case = svc.accept(case.number, actor=people.operator, version=case.version, at=MONDAY_9AM)
    case = svc.file(
        case.number,
        actor=people.shift_lead,
        version=case.version,
        at=MONDAY_9AM,
        data=MoveInput(condition=city.condition),
    )
    assert (case.proposed_unit_id, case.routing_step) == (city.other_unit.pk, "component_maintainer")


def test_dispatch_without_a_unit_sends_the_case_to_the_proposed_unit_and_is_no_override(city, people):
    district_rule(city)
    case = filed(city, people)
    case = svc.dispatch(case.number, actor=people.dispatcher, version=case.version, at=MONDAY_9AM, data=MoveInput())
    assert case.unit_id == city.unit.pk
    assert case.events.get(kind="dispatch").data == {
        "unit": city.unit.code,
        "proposed_unit": city.unit.code,
        "override": False,
    }


def test_a_dispatcher_choosing_another_unit_is_recorded_as_an_override(city, people):
    district_rule(city)
    case = filed(city, people)
    case = svc.dispatch(
        case.number, actor=people.dispatcher, version=case.version, at=MONDAY_9AM, data=MoveInput(unit=city.other_unit)
    )
    data = case.events.get(kind="dispatch").data
    assert (data["unit"], data["proposed_unit"], data["override"]) == (city.other_unit.code, city.unit.code, True)


def test_without_a_rule_the_case_awaits_triage_and_dispatch_needs_a_unit(city, people):
    case = filed(city, people)
    assert (case.proposed_unit_id, case.routing_step) == (None, "triage")
    with pytest.raises(InvalidInput, match="Choose the responsible unit") as refused:
        svc.dispatch(case.number, actor=people.dispatcher, version=case.version, at=MONDAY_9AM, data=MoveInput())
    assert refused.value.field == "unit"
    assert case.events.filter(kind="dispatch").count() == 0


def test_an_inactive_rule_is_ignored(city, people):
    district_rule(city, active=False)
    assert filed(city, people).routing_step == "triage"


def test_the_preview_names_the_unit_and_the_rule_that_chose_it(city, people):
    street_unit = Unit.objects.create(code="U-GL-JD1", name="鼓楼街道办事处", kind="street_office", level="street")
    district_rule(city)
    street_rule = RoutingRule.objects.create(
        kind="area_category", area=city.grid.parent.parent, category=city.category, unit=street_unit
    )
    answer = routing.preview(category=city.category, area=city.grid)
    assert answer.unit == street_unit and answer.rule == street_rule and answer.step == "area_category"
    assert "鼓楼街道办事处" in answer.explanation
    elsewhere = routing.preview(category=city.category, area=city.other_grid)
    assert elsewhere.unit is None and elsewhere.step == "triage"
