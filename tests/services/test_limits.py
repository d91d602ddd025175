"""Which limit a stage gets, and when an edited limit starts to apply."""

from __future__ import annotations

from citykeeper.domain.workflow import Stage
from citykeeper.services import cases as svc
from citykeeper.services import limits
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import DisposalLimit, FilingCondition, StageLimit
from tests.factories import local, report_case

MONDAY_9AM = local(2026, 11, 23, 9, 0)


def filed(city, people, *, condition=None):
    case = report_case(city, people, at=MONDAY_9AM)
    case = svc.accept(case.number, actor=people.operator, version=1, at=MONDAY_9AM)
    return svc.file(
        case.number,
        actor=people.shift_lead,
        version=2,
        at=MONDAY_9AM,
        data=MoveInput(condition=condition or city.condition),
    )


def dispatch(case, city, people):
    return svc.dispatch(
        case.number, actor=people.dispatcher, version=case.version, at=MONDAY_9AM, data=MoveInput(unit=city.unit)
    )


def test_the_area_class_override_replaces_the_conditions_disposal_limit(city, people):
    DisposalLimit.objects.create(condition=city.condition, area_class="A", limit_value=1, limit_unit="work_hours")
    case = dispatch(filed(city, people), city, people)  # the grid's district is class A
    assert case.area_class == "A"
    assert case.stage_deadline_at == local(2026, 11, 23, 10, 0)


def test_an_override_for_another_class_leaves_the_conditions_limit(city, people):
    DisposalLimit.objects.create(condition=city.condition, area_class="B", limit_value=1, limit_unit="work_hours")
    case = dispatch(filed(city, people), city, people)
    assert case.stage_deadline_at == local(2026, 11, 23, 14, 30)  # the condition's 4 work hours


def test_an_emergency_category_counts_its_disposal_limit_round_the_clock(city, people):
    city.category.emergency = True
    city.category.save()
    friday_5pm = local(2026, 11, 27, 17, 0)
    case = report_case(city, people, at=friday_5pm)
    case = svc.accept(case.number, actor=people.operator, version=1, at=friday_5pm)
    case = svc.file(
        case.number, actor=people.shift_lead, version=2, at=friday_5pm, data=MoveInput(condition=city.condition)
    )
    case = svc.dispatch(case.number, actor=people.dispatcher, version=3, at=friday_5pm, data=MoveInput(unit=city.unit))
    assert case.stage_around_the_clock
    assert case.stage_deadline_at == local(2026, 11, 27, 21, 0)


def test_an_edited_stage_limit_applies_to_the_next_stage_started_in_this_process(city, people):
    first = report_case(city, people, at=MONDAY_9AM)
    assert first.stage_deadline_at == local(2026, 11, 23, 9, 15)
    row = StageLimit.objects.get(stage=Stage.ACCEPT)
    row.limit_value = 40
    row.save()
    second = report_case(city, people, at=MONDAY_9AM)
    assert second.stage_deadline_at == local(2026, 11, 23, 9, 40)


def test_a_condition_made_by_another_process_is_found_at_once(city, people):
    limits.limit_table()  # this process has read the table
    # bulk_create sends no signals: to this process it looks like another one wrote it.
    (made_elsewhere,) = FilingCondition.objects.bulk_create(
        [FilingCondition(category=city.category, seq=9, text="整体塌陷", limit_value=2, limit_unit="work_hours")]
    )
    made_elsewhere = FilingCondition.objects.get(seq=9)
    case = dispatch(filed(city, people, condition=made_elsewhere), city, people)
    assert case.stage_deadline_at == local(2026, 11, 23, 11, 0)


def test_an_edit_made_by_another_process_applies_once_the_table_is_older_than_the_cache_period(
    city, people, monkeypatch
):
    limits.limit_table()
    StageLimit.objects.filter(stage=Stage.ACCEPT).update(limit_value=40)  # no signal: another process
    assert report_case(city, people, at=MONDAY_9AM).stage_deadline_at == local(2026, 11, 23, 9, 15)
    monkeypatch.setattr(limits, "_CACHE_SECONDS", 0)
    assert report_case(city, people, at=MONDAY_9AM).stage_deadline_at == local(2026, 11, 23, 9, 40)
