"""抽查 (random re-verification) of a small October: drawing closed cases per unit and
patrol-area grids per inspector, a draw anyone can repeat, the re-checks recorded once, bad
requests refused with nothing stored, and the results in the evaluation: their indicators
worked out by hand, frozen with a published run and listed by the drill-down; a case found not
fixed counted against the inspector who passed its 核查 (and that inspector's contractor); the
recommended scheme versions that score 抽查."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from citykeeper.domain.errors import InvalidInput, NotFound
from citykeeper.domain.evaluation.periods import Period
from citykeeper.domain.evaluation.sampling import Rule, draw
from citykeeper.services import cases as case_service
from citykeeper.services import deadlines
from citykeeper.services.cases import MoveInput
from citykeeper.services.evaluation import (
    add_contractor,
    assign_inspector,
    drilldown,
    evaluate,
    publish,
    run,
    save_scheme,
    scheme_row,
)
from citykeeper.services.sampling import adopt_weights, record_result, verify
from citykeeper.services.sampling import draw as draw_sample
from citykeeper.store.models import EvaluationRun, EvaluationScheme, SamplingItem, SamplingRound
from citykeeper.store.querysets import AppendOnlyError
from tests.factories import local
from tests.services.test_evaluation import MONDAY, NOW, OCTOBER, dispatched, finished


@pytest.fixture
def closed(city, people):
    """October: 鼓楼区市政所 closes four cases, all in time; 云龙区环卫所 closes two and leaves
    one undisposed past its deadline. Returns the numbers closed, by unit."""
    by_unit = {city.unit.pk: [], city.other_unit.pk: []}
    for n in range(4):
        at = MONDAY + dt.timedelta(minutes=10 * n)
        case = finished(
            city, people, dispatched(city, people, city.unit, at), people.handler, at + dt.timedelta(hours=1)
        )
        by_unit[city.unit.pk].append(case.number)
    for n in range(3):
        at = MONDAY + dt.timedelta(hours=1, minutes=10 * n)
        case = dispatched(city, people, city.other_unit, at)
        if n < 2:
            finished(city, people, case, people.other_handler, at + dt.timedelta(hours=1))
            by_unit[city.other_unit.pk].append(case.number)
        else:
            deadlines.catch_up(case, now=local(2026, 10, 31, 12, 0))
    return by_unit


def items_of(row: SamplingRound) -> dict[int, list[SamplingItem]]:
    out: dict[int, list[SamplingItem]] = {}
    for item in row.items.select_related("case").order_by("position"):
        out.setdefault(item.unit_id or item.inspector_id, []).append(item)
    return out


# ------------------------------------------------------------------ drawing


def test_closed_cases_are_drawn_per_unit_and_anyone_can_redraw_them_from_the_stored_seed(closed, city, people):
    row = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=2)
    assert row.population == {str(unit): sorted(numbers) for unit, numbers in closed.items()}
    assert (row.rule, row.drawn_by, len(row.seed)) == ({"share": "0/1", "minimum": 2}, people.leader, 32)
    drawn = items_of(row)
    # Two of 鼓楼区市政所's four, both of 云龙区环卫所's two (the undisposed case is not closed).
    assert {unit: len(items) for unit, items in drawn.items()} == {city.unit.pk: 2, city.other_unit.pk: 2}
    assert {i.case.number for i in drawn[city.other_unit.pk]} == set(closed[city.other_unit.pk])
    assert all(i.day == dt.date(2026, 10, 19) and i.result == "pending" for items in drawn.values() for i in items)
    again = draw(row.population, Rule.from_dict(row.rule), row.seed)
    assert again[str(city.unit.pk)] == tuple(i.case.number for i in drawn[city.unit.pk])
    assert verify(row) is True


def test_the_configured_share_is_drawn_when_no_size_is_given(closed, city, people, settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "SAMPLING": {"cases": {"share": "1/2", "minimum": 1}}}
    row = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW)
    # Half of four is 2; half of two is 1.
    assert {unit: len(items) for unit, items in items_of(row).items()} == {city.unit.pk: 2, city.other_unit.pk: 1}


def test_each_inspectors_patrol_grids_are_drawn_and_count_on_the_periods_last_day(city, people):
    row = draw_sample(OCTOBER, "patrol", by=people.leader, now=NOW)
    drawn = items_of(row)
    # Both inspectors patrol 鼓楼区, whose one unit grid is all there is to draw.
    assert set(drawn) == {people.inspector.pk, people.other_inspector.pk}
    assert all(len(items) == 1 and items[0].grid_id == city.grid.pk for items in drawn.values())
    assert {i.day for items in drawn.values() for i in items} == {dt.date(2026, 10, 31)}


@pytest.mark.parametrize(
    "request_, field, reason",
    [
        ((Period.month(2026, 11), "cases", None), "period", "open"),  # November is not over on the 21st
        ((Period.month(2026, 9), "cases", None), "period", "empty"),  # nothing was closed in September
        ((OCTOBER, "everything", None), "kind", None),
        ((OCTOBER, "cases", 0), "size", None),
    ],
)
def test_a_bad_draw_is_refused_and_nothing_is_stored(closed, people, request_, field, reason):
    period, kind, size = request_
    with pytest.raises(InvalidInput) as refused:
        draw_sample(period, kind, by=people.leader, now=NOW, size=size)
    assert (refused.value.field, refused.value.params.get("reason")) == (field, reason)
    assert not SamplingRound.objects.exists() and not SamplingItem.objects.exists()


def test_a_period_is_drawn_once_so_nobody_redraws_until_the_sample_suits(closed, people):
    first = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=1)
    for period in (OCTOBER, Period.custom(dt.date(2026, 10, 15), dt.date(2026, 10, 20))):
        with pytest.raises(InvalidInput) as refused:
            draw_sample(period, "cases", by=people.leader, now=NOW, size=3)
        assert refused.value.params == {"reason": "drawn", "round": first.pk}
    assert list(SamplingRound.objects.values_list("pk", flat=True)) == [first.pk]
    assert draw_sample(OCTOBER, "patrol", by=people.leader, now=NOW).kind == "patrol"  # the other kind is free
    with pytest.raises(AppendOnlyError):
        first.delete()


# ------------------------------------------------------------------ results


def test_a_recheck_is_recorded_once_with_who_when_and_a_note(closed, people):
    row = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=1)
    item = row.items.first()
    recorded = record_result(item.pk, "failed", by=people.leader, now=NOW, note="  井盖仍缺失  ")
    assert (recorded.result, recorded.checked_by, recorded.checked_at, recorded.note) == (
        "failed",
        people.leader,
        NOW,
        "井盖仍缺失",
    )
    with pytest.raises(InvalidInput) as refused:
        record_result(item.pk, "passed", by=people.leader, now=NOW)
    assert refused.value.field == "item"
    assert SamplingItem.objects.get(pk=item.pk).result == "failed"


@pytest.mark.parametrize(
    "check, now, field",
    [
        (("cases", "missed", 1, ""), NOW, "result"),
        (("cases", "", 0, ""), NOW, "result"),
        (("patrol", "missed", 0, ""), NOW, "missed"),
        (("patrol", "missed", 1000, ""), NOW, "missed"),
        (("patrol", "passed", 2, ""), NOW, "missed"),
        (("patrol", "passed", 0, "很长" * 1001), NOW, "note"),
        (("cases", "passed", 0, ""), local(2026, 10, 25, 9, 0), "period"),  # before October is over
    ],
)
def test_a_bad_recheck_is_refused_and_the_item_stays_pending(closed, people, check, now, field):
    kind, result, missed, note = check
    item = draw_sample(OCTOBER, kind, by=people.leader, now=NOW, size=1).items.first()
    with pytest.raises(InvalidInput) as refused:
        record_result(item.pk, result, by=people.leader, now=now, missed=missed, note=note)
    assert refused.value.field == field
    stored = SamplingItem.objects.get(pk=item.pk)
    assert (stored.result, stored.checked_by, stored.note) == ("pending", None, "")


def test_an_unknown_item_is_not_found(city, people):
    with pytest.raises(NotFound) as refused:
        record_result(999_999, "passed", by=people.leader, now=NOW)
    assert refused.value.field == "item"


# ------------------------------------------------------------------ in the evaluation


def _recheck(row, outcomes):
    """outcomes: stratum → results in draw order ("missed:2" for 发现漏报 of two problems)."""
    for stratum, items in items_of(row).items():
        for item, outcome in zip(items, outcomes[stratum], strict=False):
            result, _, count = outcome.partition(":")
            record_result(item.pk, result, by=None, now=NOW, missed=int(count or 0))


def unit_v2(by):
    """The unit scheme with 抽查合格率 at 15 % (立案数 10, 结案率 25, 按期处置率 25, 返工率 25)."""
    definition = {**scheme_row("unit").definition}
    items = [dict(i) for i in definition["items"]]
    for item, weight in zip(items, ("10", "25", "25", "25"), strict=True):
        item["weight"] = weight
    definition["items"] = [*items, {"indicator": "sample_pass_rate", "weight": "15", "method": "rate"}]
    return save_scheme(definition, by=by, reason="纳入抽查合格率", at=NOW)


def test_a_units_sampled_pass_rate_is_scored_as_worked_out_by_hand(closed, city, people):
    row = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=2)
    _recheck(row, {city.unit.pk: ["passed", "failed"], city.other_unit.pk: ["passed", "passed"]})
    unit_v2(people.leader)
    result = evaluate(OCTOBER, "unit", now=NOW)
    good, other = result.results.subjects[city.unit.pk], result.results.subjects[city.other_unit.pk]
    assert (good.indicators["sample_cases"].value, good.indicators["sample_passed"].value) == (2, 1)
    # 鼓楼区市政所: 派遣 4 → 100 × 10 % = 10; 结案率 4/4 → 25; 按期处置率 4/4 → 25; 返工率 0 → 25;
    # 抽查合格率 1/2 → 50 × 15 % = 7.5.  Σ = 92.50 → A.
    assert good.indicators["sample_pass_rate"].display() == Decimal("50.00")
    assert good.composite == Decimal("92.50") and good.grade == "A"
    # 云龙区环卫所: 10; 结案率 2/3 → 66.67 × 25 % = 16.67; 按期处置率 2/3 → 16.67; 返工率 0 → 25;
    # 抽查合格率 2/2 → 15.  Σ = 83.33 → B.
    assert other.composite == Decimal("83.33") and other.grade == "B"
    drill = drilldown(OCTOBER, "unit", city.unit.pk, "sample_pass_rate", now=NOW)
    checked = {i.case.number: i.result for i in items_of(row)[city.unit.pk]}
    assert {e.number for e in drill.denominator} == set(checked)
    assert [e.number for e in drill.numerator] == [n for n, r in checked.items() if r == "passed"]


def test_missed_problems_found_in_a_patrol_area_count_against_its_inspector(city, people):
    row = draw_sample(OCTOBER, "patrol", by=people.leader, now=NOW)
    _recheck(row, {people.inspector.pk: ["missed:2"], people.other_inspector.pk: ["passed"]})
    result = evaluate(OCTOBER, "inspector", now=NOW)
    mine, other = result.results.subjects[people.inspector.pk], result.results.subjects[people.other_inspector.pk]
    assert (mine.indicators["sample_missed"].value, mine.indicators["sample_miss_rate"].value) == (2, 1)
    assert (other.indicators["sample_missed"].value, other.indicators["sample_miss_rate"].value) == (0, 0)
    drill = drilldown(OCTOBER, "inspector", people.inspector.pk, "sample_missed", now=NOW)
    assert [(e.number, e.value, e.day) for e in drill.numerator] == [(city.grid.code, 2, dt.date(2026, 10, 31))]


def test_a_recheck_recorded_after_the_run_stops_its_publication_and_a_published_run_keeps_its_samples(
    closed, city, people
):
    row = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=2)
    first, second = items_of(row)[city.unit.pk]
    record_result(first.pk, "passed", by=None, now=NOW)
    unit_v2(people.leader)
    stale = run(OCTOBER, "unit", by=people.leader, now=NOW)
    record_result(second.pk, "failed", by=None, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        publish(stale.pk, by=people.leader, now=NOW)
    assert refused.value.field == "run" and EvaluationRun.objects.get(pk=stale.pk).snapshot_id is None
    fresh = publish(run(OCTOBER, "unit", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    figures = next(s for s in fresh.results["subjects"] if s["id"] == city.unit.pk)["indicators"]
    assert (figures["sample_passed"]["value"], figures["sample_cases"]["value"]) == ("1", "2")
    frozen = drilldown(OCTOBER, "unit", city.unit.pk, "sample_pass_rate", now=NOW, run_id=fresh.pk)
    assert sorted(e.number for e in frozen.denominator) == sorted([first.case.number, second.case.number])


class _Args:
    def __init__(self, **kw):
        self.period, self.kind, self.size = "2026-10", "cases", None
        self.__dict__.update(kw)


def test_the_command_line_draws_and_prints_the_sample_with_its_seed(closed, city, capsys):
    from citykeeper.cli import cmd_sample

    assert cmd_sample(_Args(size=1)) == 0
    out = capsys.readouterr().out
    row = SamplingRound.objects.get()
    assert out.startswith(f"round {row.pk} · cases · 2026-10-01…2026-10-31 · seed {row.seed}\n")
    assert "2 strata, 6 candidates, 2 drawn" in out and "鼓楼区市政所" in out and "云龙区环卫所" in out
    assert cmd_sample(_Args(size=1)) == 2
    assert "refused (period): The cases sample of 2026-10-01…2026-10-31 was drawn already" in capsys.readouterr().err
    assert cmd_sample(_Args(period="2026-13", kind="patrol")) == 2
    assert SamplingRound.objects.count() == 1


# ------------------------------------------------------------------ 核查失实: the inspector who passed the check


def checked_by(city, people, at, inspector):
    """A case of 鼓楼区市政所 disposed an hour after ``at``, its 核查 passed by ``inspector`` and
    closed a few minutes later (all on ``at``'s day)."""
    case = dispatched(city, people, city.unit, at)
    steps = [
        (case_service.dispose, people.handler, MoveInput(reason="已修复")),
        (case_service.send_check, people.operator, MoveInput(assignee=inspector)),
        (case_service.check_pass, inspector, MoveInput()),
        (case_service.close, people.shift_lead, MoveInput()),
    ]
    for minutes, (verb, actor, data) in enumerate(steps):
        when = at + dt.timedelta(hours=1, minutes=minutes)
        case = verb(case.number, actor=actor, version=case.version, at=when, data=data)
    return case.number


@pytest.fixture
def rechecked(city, people):
    """October: 鼓楼区市政所 closes four cases on the 19th, the first two passed at 核查 by
    inspector, the last two by inspector2. All four are drawn; the re-checks find the first
    fixed (合格), the second and third not fixed (不合格); the fourth is still pending.
    Returns the item of each case, in that order."""
    checkers = [people.inspector, people.inspector, people.other_inspector, people.other_inspector]
    numbers = [checked_by(city, people, MONDAY + dt.timedelta(minutes=10 * n), who) for n, who in enumerate(checkers)]
    row = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=4)
    items = {i.case.number: i for i in row.items.select_related("case")}
    first, second, third, fourth = (items[n] for n in numbers)
    for item, result in ((first, "passed"), (second, "failed"), (third, "failed")):
        record_result(item.pk, result, by=people.leader, now=NOW, note="现场问题仍在" if result == "failed" else "")
    return first, second, third, fourth


def test_a_case_found_not_fixed_counts_against_the_inspector_who_passed_its_check_as_worked_out_by_hand(
    rechecked, city, people
):
    first, second, third, _fourth = rechecked
    adopt_weights(by=people.leader, now=NOW)
    result = evaluate(OCTOBER, "inspector", now=NOW)
    mine, other = result.results.subjects[people.inspector.pk], result.results.subjects[people.other_inspector.pk]
    # inspector passed the first two (one not fixed); inspector2 the last two, one re-checked.
    assert (mine.indicators["sample_checked"].value, mine.indicators["sample_checked_failed"].value) == (2, 1)
    assert (other.indicators["sample_checked"].value, other.indicators["sample_checked_failed"].value) == (1, 1)
    assert mine.indicators["false_check_rate"].display() == Decimal("50.00")
    assert other.indicators["false_check_rate"].display() == Decimal("100.00")
    # Scheme v2 (有效上报率 35 · 漏报率 15 · 按时核实率 15 · 按时核查率 15 · 抽查漏报率 10 · 核查失实率 10).
    # inspector: 有效上报率 4/4 → 100 × 35; 漏报率 0/4 → 100 × 15; nothing to verify (不适用); 按时核查率
    # 2/2 → 100 × 15; no patrol round (不适用); 核查失实率 1/2 → 50 × 10. (3500 + 1500 + 1500 + 500) / 75 = 93.33.
    assert mine.composite == Decimal("93.33") and mine.grade == "A"
    # inspector2 reported nothing: 漏报率 100 × 15; 按时核查率 100 × 15; 核查失实率 1/1 → 0 × 10. 3000 / 40 = 75.00.
    assert other.composite == Decimal("75.00") and other.grade == "B"
    # The unit's 抽查合格率 is what it was: 1 fixed of the 3 re-checked.
    unit = evaluate(OCTOBER, "unit", now=NOW).results.subjects[city.unit.pk]
    assert (unit.indicators["sample_passed"].value, unit.indicators["sample_cases"].value) == (1, 3)
    drill = drilldown(OCTOBER, "inspector", people.inspector.pk, "false_check_rate", now=NOW)
    assert sorted(e.number for e in drill.denominator) == sorted([first.case.number, second.case.number])
    assert [(e.number, e.day) for e in drill.numerator] == [(second.case.number, dt.date(2026, 10, 19))]
    drill = drilldown(OCTOBER, "inspector", people.other_inspector.pk, "false_check_rate", now=NOW)
    assert [e.number for e in drill.denominator] == [e.number for e in drill.numerator] == [third.case.number]


def test_a_contractor_answers_for_the_checks_its_inspectors_passed_while_they_worked_for_it(rechecked, people):
    first, second, _third, _fourth = rechecked
    contractor = add_contractor("WB-01", "城巡公司", contract_start=dt.date(2026, 1, 1))
    assign_inspector(contractor, people.inspector, start=dt.date(2026, 10, 1))
    # inspector2 left on the 18th, before the cases closed: their checks are not the contractor's.
    assign_inspector(contractor, people.other_inspector, start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 18))
    adopt_weights(by=people.leader, now=NOW)
    company = evaluate(OCTOBER, "contractor", now=NOW).results.subjects[contractor.pk]
    assert (company.indicators["sample_checked"].value, company.indicators["sample_checked_failed"].value) == (2, 1)
    # Its sums are inspector's alone, so its composite is inspector's (above).
    assert company.composite == Decimal("93.33")
    drill = drilldown(OCTOBER, "contractor", contractor.pk, "false_check_rate", now=NOW)
    assert sorted(e.number for e in drill.denominator) == sorted([first.case.number, second.case.number])
    assert [e.number for e in drill.numerator] == [second.case.number]


def test_a_check_result_recorded_after_the_run_stops_its_publication_and_the_published_run_keeps_the_cases(
    rechecked, people
):
    _first, _second, third, fourth = rechecked
    adopt_weights(by=people.leader, now=NOW)
    stale = run(OCTOBER, "inspector", by=people.leader, now=NOW)
    record_result(fourth.pk, "passed", by=people.leader, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        publish(stale.pk, by=people.leader, now=NOW)
    assert refused.value.field == "run"
    fresh = publish(run(OCTOBER, "inspector", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    figures = next(s for s in fresh.results["subjects"] if s["id"] == people.other_inspector.pk)["indicators"]
    assert (figures["sample_checked_failed"]["value"], figures["sample_checked"]["value"]) == ("1", "2")
    assert figures["false_check_rate"]["display"] == "50.00"
    frozen = drilldown(OCTOBER, "inspector", people.other_inspector.pk, "false_check_rate", now=NOW, run_id=fresh.pk)
    assert sorted(e.number for e in frozen.denominator) == sorted([third.case.number, fourth.case.number])
    assert [e.number for e in frozen.numerator] == [third.case.number]


# ------------------------------------------------------------------ the scheme versions that score 抽查


def test_the_recommended_sampling_weights_are_saved_once_as_new_versions_with_their_reason(city, people):
    saved = adopt_weights(by=people.leader, now=NOW)
    assert [(r.code, r.version, r.reason, r.created_by, r.created_at) for r in saved] == [
        (code, 2, "加入抽查指标", people.leader, NOW) for code in ("unit", "inspector", "contractor")
    ]
    assert {i["indicator"]: i["weight"] for i in scheme_row("inspector").definition["items"]} == {
        "valid_report_rate": "35",
        "missed_report_rate": "15",
        "verify_on_time_rate": "15",
        "check_on_time_rate": "15",
        "sample_miss_rate": "10",
        "false_check_rate": "10",
    }
    # Version 1 stays on record with the standard's weights; adopting again changes nothing.
    assert EvaluationScheme.objects.get(code="unit", version=1).reason.startswith("默认方案")
    assert adopt_weights(by=people.leader, now=NOW) == []
    assert EvaluationScheme.objects.filter(version__gt=2).count() == 0


def test_the_sampling_weights_are_refused_over_a_scheme_changed_by_hand_and_nothing_is_saved(city, people):
    definition = {**scheme_row("inspector").definition}
    items = [dict(i) for i in definition["items"]]
    items[0]["weight"], items[1]["weight"] = "50", "10"
    save_scheme({**definition, "items": items}, by=people.leader, reason="侧重有效上报", at=NOW)
    with pytest.raises(InvalidInput) as refused:
        adopt_weights(by=people.leader, now=NOW)
    assert refused.value.field == "items"
    assert not EvaluationScheme.objects.filter(code__in=["unit", "contractor"], version=2).exists()


def test_the_command_line_adopts_the_sampling_weights(city, capsys):
    import argparse

    from citykeeper.cli import cmd_evaluate

    args = argparse.Namespace(rebuild=False, sampling_weights=True, period=None)
    assert cmd_evaluate(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "unit v2: dispatched 10 · closure_rate 25 · on_time_disposal_rate 25 · rework_rate 25 · sample_pass_rate 15"
    )
    assert [line.split(":")[0] for line in out] == ["unit v2", "inspector v2", "contractor v2"]
    assert cmd_evaluate(args) == 0
    assert "score 抽查 already" in capsys.readouterr().out
