"""The base data version moves with every change; component changes are versioned."""

from __future__ import annotations

import datetime as dt

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.services import basedata
from citykeeper.store.models import ComponentVersion
from tests.factories import MONDAY_9AM, make_component


def test_saving_an_area_or_a_component_moves_the_base_data_version(city):
    before = basedata.current_version()
    city.grid.name = "改名网格"
    city.grid.save()
    after_area = basedata.current_version()
    make_component(city)
    assert before < after_area < basedata.current_version()


def test_a_component_change_records_who_when_how_and_exactly_what_changed(city, people):
    component = make_component(city)
    basedata.record_creation(component, by=people.inspector, via="import components.csv", at=MONDAY_9AM)
    later = MONDAY_9AM + dt.timedelta(days=2)
    changed = basedata.change_component(
        component, {"state": "damaged", "maintainer_unit": city.unit}, by=people.operator, via="admin", at=later
    )
    assert changed.version == 2 and changed.state == "damaged"
    assert changed.changed_on == dt.date(2026, 11, 25)  # 变更日期 follows the state change
    record = ComponentVersion.objects.get(component=component, version=2)
    assert (record.changed_by, record.via, record.changed_at) == (people.operator, "admin", later)
    assert record.changes == {
        "state": ["intact", "damaged"],
        "maintainer_unit": [None, city.unit.code],
        "changed_on": [None, "2026-11-25"],
    }
    first = ComponentVersion.objects.get(component=component, version=1)
    assert first.changes["name"] == [None, "污水井盖"] and first.via == "import components.csv"


def test_a_change_that_changes_nothing_writes_no_version(city, people):
    component = make_component(city)
    same = basedata.change_component(component, {"state": "intact"}, by=None, via="api", at=MONDAY_9AM)
    assert same.version == 1 and not ComponentVersion.objects.filter(component=component).exists()


def test_a_change_of_a_field_that_is_not_the_components_own_is_refused(city):
    component = make_component(city)
    with pytest.raises(InvalidInput, match="cannot be changed: code") as refused:
        basedata.change_component(component, {"code": "1"}, by=None, via="api", at=MONDAY_9AM)
    assert refused.value.field == "code"
