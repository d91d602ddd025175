"""Evaluating a month from the counters: who is evaluated, with whom they are ranked, and
the scores of a small October worked out by hand (units and a street); bad periods and
schemes are refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from citykeeper.domain.errors import InvalidInput, NotFound
from citykeeper.domain.evaluation.periods import Period
from citykeeper.services import cases as case_service
from citykeeper.services import deadlines
from citykeeper.services.cases import MoveInput
from citykeeper.services.evaluation import evaluate, publish, run, save_scheme, scheme_row
from citykeeper.store.models import Case, EvaluationRun, EvaluationScheme
from citykeeper.store.querysets import AppendOnlyError
from tests.factories import local, report_case

OCTOBER = Period.month(2026, 10)
NOW = local(2026, 11, 21, 9, 0)
MONDAY = local(2026, 10, 19, 9, 0)  # an ordinary working week


def _walk(case, steps, at):
    for minutes, (verb, actor, data) in enumerate(steps, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=at + dt.timedelta(minutes=minutes), data=data)
    return case


def dispatched(city, people, unit, at):
    case = report_case(city, people, at=at)
    return _walk(
        case,
        [
            (case_service.accept, people.operator, MoveInput()),
            (case_service.file, people.shift_lead, MoveInput(condition=city.condition)),
            (case_service.dispatch, people.dispatcher, MoveInput(unit=unit)),
        ],
        at,
    )


def finished(city, people, case, handler, disposed_at):
    """Disposed at ``disposed_at``, then checked and closed a few minutes later."""
    case = case_service.dispose(
        case.number, actor=handler, version=case.version, at=disposed_at, data=MoveInput(reason="已修复")
    )
    return _walk(
        case,
        [
            (case_service.send_check, people.operator, MoveInput(assignee=people.inspector)),
            (case_service.check_pass, people.inspector, MoveInput()),
            (case_service.close, people.shift_lead, MoveInput()),
        ],
        disposed_at,
    )


@pytest.fixture
def october(city, people):
    """鼓楼区市政所: five cases, four disposed within the limit (4 working hours), one the next
    afternoon. 云龙区环卫所: five cases, two disposed in time, three never disposed (the ticker
    marks them overdue on the day). All ten are in the same grid of 鼓楼街道01."""
    for n in range(5):
        at = MONDAY + dt.timedelta(minutes=10 * n)
        case = dispatched(city, people, city.unit, at)
        late = n == 4
        disposed_at = local(2026, 10, 20, 16, 0) if late else at + dt.timedelta(hours=1)
        finished(city, people, case, people.handler, disposed_at)
    for n in range(5):
        at = MONDAY + dt.timedelta(hours=1, minutes=10 * n)
        case = dispatched(city, people, city.other_unit, at)
        if n < 2:
            finished(city, people, case, people.other_handler, at + dt.timedelta(hours=1))
        else:
            assert "deadline_overdue" in deadlines.catch_up(case, now=local(2026, 10, 31, 12, 0))
    return city


def test_units_are_scored_and_ranked_as_worked_out_by_hand(october):
    result = evaluate(OCTOBER, "unit", now=NOW)
    by_name = {result.subjects[sid].name: r for sid, r in result.results.subjects.items()}
    good, poor = by_name["鼓楼区市政所"], by_name["云龙区环卫所"]
    # 鼓楼区市政所: 派遣 5 → band 0–50 = 100 pts × 10 % = 10; 结案率 5/5 → 100 × 30 % = 30;
    # 按期处置率 4/5 → 80 × 30 % = 24; 返工率 0/5 → (1 − 0) × 100 × 30 % = 30.  Σ = 94.00 → A.
    assert good.indicators["dispatched"].value == 5
    assert (good.indicators["closure_rate"].numerator, good.indicators["closure_rate"].denominator) == (5, 5)
    assert good.indicators["on_time_disposal_rate"].display() == Decimal("80.00")
    assert good.composite == Decimal("94.00") and good.grade == "A"
    # 云龙区环卫所: 10; 结案率 2/(2 closed + 3 overdue) → 40 × 30 % = 12; 按期处置率 2/5 → 12;
    # 返工率 0 → 30.  Σ = 64.00 → C.
    assert (poor.indicators["closure_rate"].numerator, poor.indicators["closure_rate"].denominator) == (2, 5)
    assert poor.indicators["overdue_undisposed"].value == 3
    assert poor.composite == Decimal("64.00") and poor.grade == "C"
    # Both are 专业部门 without a group of their own: one peer group, ranked 1 and 2.
    assert (good.rank, poor.rank, good.group_size) == (1, 2, 2) and good.group == poor.group
    assert result.provisional is False and result.level == ""


def test_a_street_is_the_sum_of_its_grids_and_ranked_with_its_class(october):
    result = evaluate(OCTOBER, "region-1", now=NOW, level="street")
    # 鼓楼区 is a class-A district, so its street is 一类; 云龙区's streets (class B) are not here.
    assert [s.name for s in result.subjects.values()] == ["鼓楼街道01"]
    (street,) = result.results.subjects.values()
    # 监督举报率 0/10 (no public reports) → (1 − 0) × 100 × 10 % = 10; 立案数 10 in its one grid →
    # band "≥ 9" = 0 pts × 20 % = 0; 结案率 7/10 → 70 × 30 % = 21; 按期结案率 6/10 (the late
    # disposal closed, but not on time) → 60 × 40 % = 24.  Σ = 55.00 → D.
    assert street.indicators["filed"].value == 10
    assert street.indicators["on_time_closure_rate"].display() == Decimal("60.00")
    assert street.composite == Decimal("55.00") and street.grade == "D"
    # 云龙街道01 (二类) had no cases: it is listed, and only 立案数 scores (0 → 100 pts); its
    # rates are 不适用, so their weights go to that item.
    other = evaluate(OCTOBER, "region-2", now=NOW, level="street")
    assert [s.name for s in other.subjects.values()] == ["云龙街道01"]
    (quiet,) = other.results.subjects.values()
    assert quiet.indicators["closure_rate"].value is None and quiet.composite == Decimal("100.00")


def test_posts_are_evaluated_person_by_person(october, people):
    result = evaluate(OCTOBER, "dispatcher", now=NOW)
    mine = result.results.subjects[people.dispatcher.pk]
    assert mine.indicators["dispatched"].value == 10
    assert mine.ranked is False and "below the minimum" in mine.reason  # 10 dispatches < 50


def test_month_on_month_compares_with_september(october):
    result = evaluate(OCTOBER, "unit", now=NOW)
    (delta,) = [d for sid, d in result.month_on_month.items() if result.subjects[sid].name == "云龙区环卫所"]
    # September: nothing was due, so its composite (the volume band alone: 0 → 100) is no
    # performance to compare with; the counts still are.
    assert (delta.composite, delta.grade_before, delta.grade_after) == (None, None, "C")
    assert delta.indicators["dispatched"].difference == 5


@pytest.mark.parametrize(
    "request_, error, field",
    [
        ((Period.month(2026, 12), "unit", "street"), InvalidInput, "start"),
        ((OCTOBER, "no-such-scheme", "street"), NotFound, "scheme"),
        ((OCTOBER, "region-1", "province"), InvalidInput, "level"),
    ],
)
def test_bad_requests_are_refused_with_the_field(city, request_, error, field):
    period, scheme, level = request_
    with pytest.raises(error) as refused:
        evaluate(period, scheme, now=NOW, level=level)
    assert refused.value.field == field


# ------------------------------------------------------------------ runs, publication, schemes


def test_a_published_run_is_frozen_and_publishing_it_again_gives_the_same_snapshot(october, people):
    stored = run(OCTOBER, "unit", by=people.leader, now=NOW)
    names = {s["name"]: s for s in stored.results["subjects"]}
    assert names["鼓楼区市政所"]["composite"] == "94.00" and names["云龙区环卫所"]["grade"] == "C"
    assert stored.results["scheme"]["version"] == 1 and len(stored.checksum) == 64
    first = publish(stored.pk, by=people.leader, now=NOW)
    assert first.snapshot_id == f"2026-10-unit-v1-{stored.checksum[:10]}"
    assert publish(stored.pk, by=people.shift_lead, now=NOW).snapshot_id == first.snapshot_id
    # A case of October is disposed late in November: October's counts move, the snapshot does not.
    late = Case.objects.filter(unit=october.other_unit, state="dispatched").first()
    case_service.dispose(
        late.number,
        actor=people.other_handler,
        version=late.version,
        at=local(2026, 11, 2, 10, 0),
        data=MoveInput(reason="补办"),
    )
    again = EvaluationRun.objects.get(pk=stored.pk)
    assert again.results == stored.results and again.snapshot_id == first.snapshot_id
    assert run(OCTOBER, "unit", by=people.leader, now=NOW).checksum != stored.checksum
    again.results = {**again.results, "subjects": []}
    with pytest.raises(AppendOnlyError):
        again.save()
    with pytest.raises(AppendOnlyError):
        again.delete()


def test_a_run_of_a_replaced_scheme_cannot_be_published(october, people):
    old = run(OCTOBER, "unit", by=people.leader, now=NOW)
    definition = {**scheme_row("unit").definition}
    definition["items"] = [dict(i) for i in definition["items"]]
    definition["items"][0]["weight"], definition["items"][1]["weight"] = "20", "20"  # 10/30 → 20/20
    newer = save_scheme(definition, by=people.leader, reason="加大立案数权重", at=NOW)
    assert (newer.version, newer.reason, newer.created_by) == (2, "加大立案数权重", people.leader)
    with pytest.raises(InvalidInput) as refused:
        publish(old.pk, by=people.leader, now=NOW)
    assert refused.value.field == "scheme" and "v2 is in force" in str(refused.value)
    fresh = run(OCTOBER, "unit", by=people.leader, now=NOW)
    assert publish(fresh.pk, by=people.leader, now=NOW).snapshot_id.startswith("2026-10-unit-v2-")
    # 鼓楼区市政所 under v2: 20 + 20 × 100 % + 30 × 80 % + 30 = 94 again; 云龙区环卫所: 20 + 8 + 12 + 30 = 70.
    names = {s["name"]: s for s in fresh.results["subjects"]}
    assert names["云龙区环卫所"]["composite"] == "70.00"


@pytest.mark.parametrize(
    "change, reason, field",
    [
        ({"weight": "25"}, "改权重", "weights"),  # 25 + 30 + 30 + 30 = 115 %
        ({"indicator": "no_such_indicator"}, "改指标", "items[0].indicator"),
        ({}, "   ", "reason"),
        ({}, "没有改动", "definition"),
    ],
)
def test_a_bad_scheme_change_is_refused_and_nothing_is_stored(city, people, change, reason, field):
    definition = {**scheme_row("unit").definition}
    definition["items"] = [dict(i) for i in definition["items"]]
    definition["items"][0].update(change)
    with pytest.raises(InvalidInput) as refused:
        save_scheme(definition, by=people.leader, reason=reason, at=NOW)
    assert refused.value.field == field
    assert list(EvaluationScheme.objects.values_list("code", "version")) == [("unit", 1)]


def test_a_period_that_is_not_over_cannot_be_published(october, people):
    november = run(Period.month(2026, 11), "unit", by=people.leader, now=NOW)
    assert november.provisional is True
    with pytest.raises(InvalidInput) as refused:
        publish(november.pk, by=people.leader, now=NOW)
    assert refused.value.field == "period"


class _Args:
    def __init__(self, **kw):
        self.rebuild, self.publish, self.scheme, self.level, self.period = False, False, "unit", "street", None
        self.__dict__.update(kw)


def test_the_command_line_scores_publishes_and_refuses(october, capsys):
    from citykeeper.cli import cmd_evaluate

    assert cmd_evaluate(_Args(period="2026-10", publish=True)) == 0
    out = capsys.readouterr().out
    assert out.startswith("2026年10月 · 部门评价 v1\n")
    assert "   1    94.00  A" in out and "鼓楼区市政所" in out and "published as 2026-10-unit-v1-" in out
    assert cmd_evaluate(_Args(period="2026-13")) == 2
    assert "refused (month): A month is 1 to 12" in capsys.readouterr().err
    assert cmd_evaluate(_Args()) == 2


# ------------------------------------------------------------------ drill-down


def _weighted(entries, factors):
    return sum(e.value * factors.get(e.key, 1) for e in entries)


@pytest.mark.parametrize(
    "scheme, level", [("unit", ""), ("region-1", "street"), ("inspector", ""), ("dispatcher", ""), ("shift_lead", "")]
)
def test_every_figure_of_every_table_is_the_sum_of_its_cases(october, scheme, level):
    from fractions import Fraction

    from citykeeper.services.evaluation import drilldown

    result = evaluate(OCTOBER, scheme, now=NOW, level=level or "street")
    checked = 0
    for sid, subject in result.results.subjects.items():
        for code, figure in subject.indicators.items():
            drill = drilldown(OCTOBER, scheme, sid, code, now=NOW, level=level or "street")
            assert Fraction(_weighted(drill.numerator, drill.factors)) == figure.numerator, (sid, code)
            if figure.denominator is not None:
                assert Fraction(_weighted(drill.denominator, drill.factors)) == figure.denominator, (sid, code)
            checked += bool(drill.numerator)
    assert checked >= 5  # the figures were not all empty


def test_the_closure_rate_of_a_unit_lists_the_cases_closed_and_those_due(october):
    from citykeeper.services.evaluation import drilldown

    result = evaluate(OCTOBER, "unit", now=NOW)
    poor = next(sid for sid, info in result.subjects.items() if info.name == "云龙区环卫所")
    drill = drilldown(OCTOBER, "unit", poor, "closure_rate", now=NOW)
    assert len({e.number for e in drill.numerator}) == 2 and len({e.number for e in drill.denominator}) == 5
    assert {e.counter for e in drill.denominator} == {"close_due"}
    assert all(e.day.month == 10 for e in drill.denominator)


def test_a_published_runs_cases_stay_as_counted_and_a_stale_run_is_not_published(october, people):
    from citykeeper.services.evaluation import drilldown

    stale = run(OCTOBER, "unit", by=people.leader, now=NOW)
    stored = run(OCTOBER, "unit", by=people.leader, now=NOW)
    published = publish(stored.pk, by=people.leader, now=NOW)
    poor = next(s["id"] for s in published.results["subjects"] if s["name"] == "云龙区环卫所")
    frozen = drilldown(OCTOBER, "unit", poor, "on_time_disposal_rate", now=NOW, run_id=published.pk)
    assert len(frozen.denominator) == 5
    late = Case.objects.filter(unit=october.other_unit, state="dispatched").first()
    case_service.dispose(
        late.number,
        actor=people.other_handler,
        version=late.version,
        at=local(2026, 11, 2, 10, 0),
        data=MoveInput(reason="补办"),
    )
    live = drilldown(OCTOBER, "unit", poor, "on_time_disposal_rate", now=NOW)
    assert len(live.denominator) == 4  # its due moved to November, when it was disposed
    again = drilldown(OCTOBER, "unit", poor, "on_time_disposal_rate", now=NOW, run_id=published.pk)
    assert again.denominator == frozen.denominator
    with pytest.raises(InvalidInput) as refused:
        publish(stale.pk, by=people.leader, now=NOW)
    assert refused.value.field == "run" and "have changed since it was computed" in str(refused.value)
    assert EvaluationRun.objects.get(pk=stale.pk).snapshot_id is None


def test_a_drill_down_into_a_subject_that_is_not_one_is_refused(october, people):
    from citykeeper.services.evaluation import drilldown

    with pytest.raises(NotFound) as refused:
        drilldown(OCTOBER, "unit", 999_999, "closure_rate", now=NOW)
    assert refused.value.field == "subject"
    with pytest.raises(NotFound):
        drilldown(OCTOBER, "dispatcher", people.operator.pk, "dispatched", now=NOW)  # not a dispatcher
    with pytest.raises(InvalidInput) as refused:
        drilldown(OCTOBER, "unit", october.unit.pk, "valid_report_rate", now=NOW)
    assert refused.value.field == "indicator"


# ------------------------------------------------------------------ manual adjustments (人工调整)


def _composites(stored_or_evaluation):
    if isinstance(stored_or_evaluation, EvaluationRun):
        return {s["name"]: s["composite"] for s in stored_or_evaluation.results["subjects"]}
    return {
        stored_or_evaluation.subjects[sid].name: r.composite for sid, r in stored_or_evaluation.results.subjects.items()
    }


def test_adjustments_are_applied_after_scoring_and_kept_with_the_run(october, people):
    from citykeeper.services.evaluation import add_adjustment

    add_adjustment(OCTOBER, "unit", october.other_unit.pk, "2", reason="承担防汛保障任务", by=people.leader, now=NOW)
    add_adjustment(
        OCTOBER,
        "unit",
        october.unit.pk,
        "10",
        reason="复核确认按期",
        by=people.leader,
        now=NOW,
        indicator="on_time_disposal_rate",
    )
    # 云龙区环卫所 64.00 + 2 = 66.00 (C); 鼓楼区市政所: 按期处置率 80 + 10 = 90 分 × 30 % = 27
    # instead of 24: 94.00 + 3 = 97.00.
    assert _composites(evaluate(OCTOBER, "unit", now=NOW)) == {
        "鼓楼区市政所": Decimal("97.00"),
        "云龙区环卫所": Decimal("66.00"),
    }
    stored = run(OCTOBER, "unit", by=people.leader, now=NOW)
    poor = next(s for s in stored.results["subjects"] if s["name"] == "云龙区环卫所")
    assert (poor["composite"], poor["unadjusted"], poor["grade"]) == ("66.00", "64.00", "C")
    recorded = {a["name"]: a for a in stored.results["adjustments"]}
    assert recorded["云龙区环卫所"]["reason"] == "承担防汛保障任务" and recorded["云龙区环卫所"]["by"] == "leader"
    assert recorded["鼓楼区市政所"]["indicator"] == "on_time_disposal_rate" and recorded["鼓楼区市政所"]["applied"]
    assert publish(stored.pk, by=people.leader, now=NOW).snapshot_id.startswith("2026-10-unit-v1-")


def test_a_withdrawal_is_a_new_row_and_the_score_goes_back(october, people):
    from citykeeper.services.evaluation import add_adjustment, withdraw_adjustment
    from citykeeper.store.models import EvaluationAdjustment

    added = add_adjustment(OCTOBER, "unit", october.other_unit.pk, "-3.5", reason="迟报", by=people.leader, now=NOW)
    assert _composites(evaluate(OCTOBER, "unit", now=NOW))["云龙区环卫所"] == Decimal("60.50")
    withdrawal = withdraw_adjustment(added.pk, reason="核实后不扣分", by=people.shift_lead, now=NOW)
    assert withdrawal.withdraws == added and EvaluationAdjustment.objects.count() == 2
    assert _composites(evaluate(OCTOBER, "unit", now=NOW))["云龙区环卫所"] == Decimal("64.00")
    stored = run(OCTOBER, "unit", by=people.leader, now=NOW)
    (shown,) = stored.results["adjustments"]
    assert shown["withdrawn"]["reason"] == "核实后不扣分" and shown["withdrawn"]["by"] == "shiftlead"
    with pytest.raises(InvalidInput) as refused:
        withdraw_adjustment(added.pk, reason="再撤一次", by=people.leader, now=NOW)
    assert refused.value.field == "adjustment" and EvaluationAdjustment.objects.count() == 2
    with pytest.raises(AppendOnlyError):
        added.delete()


def test_an_adjustment_after_the_run_stops_its_publication_and_none_is_taken_after_publishing(october, people):
    from citykeeper.services.evaluation import add_adjustment, withdraw_adjustment

    stale = run(OCTOBER, "unit", by=people.leader, now=NOW)
    added = add_adjustment(OCTOBER, "unit", october.unit.pk, "1", reason="补充加分", by=people.leader, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        publish(stale.pk, by=people.leader, now=NOW)
    assert refused.value.field == "run"
    fresh = publish(run(OCTOBER, "unit", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    for attempt in (
        lambda: add_adjustment(OCTOBER, "unit", october.unit.pk, "1", reason="再加", by=people.leader, now=NOW),
        lambda: withdraw_adjustment(added.pk, reason="撤销", by=people.leader, now=NOW),
    ):
        with pytest.raises(InvalidInput) as refused:
            attempt()
        assert refused.value.field == "published" and fresh.snapshot_id in str(refused.value)


@pytest.mark.parametrize(
    "change, error, field",
    [
        ({"reason": "  "}, InvalidInput, "reason"),
        ({"points": "0"}, InvalidInput, "points"),
        ({"points": "12"}, InvalidInput, "points"),
        ({"points": "很多"}, InvalidInput, "points"),
        ({"indicator": "valid_report_rate"}, InvalidInput, "indicator"),
        ({"subject": 999_999}, NotFound, "subject"),
        ({"scheme": "no-such-scheme"}, NotFound, "scheme"),
        ({"period": Period.month(2026, 12)}, InvalidInput, "start"),
    ],
)
def test_a_bad_adjustment_is_refused_and_nothing_is_stored(october, people, change, error, field):
    from citykeeper.services.evaluation import add_adjustment
    from citykeeper.store.models import EvaluationAdjustment

    request_ = {"period": OCTOBER, "scheme": "unit", "subject": october.unit.pk, "points": "2", "reason": "理由"}
    request_.update(change)
    with pytest.raises(error) as refused:
        add_adjustment(
            request_["period"],
            request_["scheme"],
            request_["subject"],
            request_["points"],
            reason=request_["reason"],
            by=people.leader,
            now=NOW,
            indicator=request_.get("indicator", ""),
        )
    assert refused.value.field == field
    assert not EvaluationAdjustment.objects.exists()


# ------------------------------------------------------------------ inspection contractors (监督员外包公司)


@pytest.fixture
def contractors(october, people):
    """The inspector who reported and checked October's cases works for 城巡公司 until
    19 October and for 安城公司 from the 20th; the other inspector only for 安城公司."""
    from citykeeper.services.evaluation import add_contractor, assign_inspector

    first = add_contractor("WB-01", "城巡公司", contract_start=dt.date(2026, 1, 1))
    second = add_contractor("WB-02", "安城公司", contract_start=dt.date(2026, 10, 1))
    assign_inspector(first, people.inspector, start=dt.date(2026, 1, 1), end=dt.date(2026, 10, 19))
    assign_inspector(second, people.inspector, start=dt.date(2026, 10, 20))
    assign_inspector(second, people.other_inspector, start=dt.date(2026, 10, 1))
    return first, second


def test_a_contractor_is_the_sum_of_its_inspectors_on_the_days_they_worked_for_it(contractors, people):
    from citykeeper.services.evaluation import drilldown

    first, second = contractors
    result = evaluate(OCTOBER, "contractor", now=NOW)
    a, b = result.results.subjects[first.pk], result.results.subjects[second.pk]
    # The ten reports and the checks of the six cases disposed on 19 October fall to 城巡公司;
    # the check of the one disposed late, on the 20th, to 安城公司. 鼓楼区's grid had its ten
    # filings on the 19th: in 城巡公司's patrol area then, and in 安城公司's too (its other
    # inspector patrols the same grid all month); no 漏报 in either.
    assert (
        a.indicators["reported"].value,
        a.indicators["check_due"].value,
        a.indicators["missed_report_rate"].denominator,
    ) == (10, 6, 10)
    assert (
        b.indicators["reported"].value,
        b.indicators["check_due"].value,
        b.indicators["missed_report_rate"].denominator,
    ) == (0, 1, 10)
    # 城巡公司: 有效上报率 10/10 → 40; 漏报率 0/10 → 20; 按时核实率 不适用; 按时核查率 6/6 → 20:
    # 80 of the 80 % that have a value = 100.00, ranked (10 reports ≥ 10).
    assert (a.composite, a.rank, a.group_size) == (Decimal("100.00"), 1, 1)
    assert b.ranked is False and "below the minimum" in b.reason  # no reports of its own
    assert result.subjects[first.pk].group == result.subjects[second.pk].group == "外包公司"
    drill = drilldown(OCTOBER, "contractor", second.pk, "check_on_time_rate", now=NOW)
    assert [e.day for e in drill.denominator] == [dt.date(2026, 10, 20)]


def test_every_figure_of_a_contractor_is_the_sum_of_its_cases_and_a_run_publishes(contractors, people):
    from fractions import Fraction

    from citykeeper.services.evaluation import drilldown

    result = evaluate(OCTOBER, "contractor", now=NOW)
    for sid, subject in result.results.subjects.items():
        for code, figure in subject.indicators.items():
            drill = drilldown(OCTOBER, "contractor", sid, code, now=NOW)
            assert Fraction(sum(e.value for e in drill.numerator)) == figure.numerator, (sid, code)
            if figure.denominator is not None:
                assert Fraction(sum(e.value for e in drill.denominator)) == figure.denominator, (sid, code)
    stored = publish(run(OCTOBER, "contractor", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    assert stored.snapshot_id.startswith("2026-10-contractor-v1-") and stored.cases


def test_an_inspector_works_for_one_contractor_at_a_time(contractors, people):
    from citykeeper.services.evaluation import add_contractor, assign_inspector

    first, _second = contractors
    with pytest.raises(InvalidInput) as refused:
        assign_inspector(first, people.other_inspector, start=dt.date(2026, 9, 1), end=dt.date(2026, 10, 5))
    assert refused.value.field == "start"
    with pytest.raises(InvalidInput) as refused:
        assign_inspector(first, people.operator, start=dt.date(2026, 9, 1))
    assert refused.value.field == "inspector"
    with pytest.raises(InvalidInput) as refused:
        add_contractor("WB-01", "重名公司", contract_start=dt.date(2026, 1, 1))
    assert refused.value.field == "code"


@pytest.fixture
def two_grids(city, people):
    """A second grid beside the test grid in 鼓楼街道01's 第一社区 (一类, from 鼓楼区), and a grid
    whose code merely starts with the test grid's; October: three cases filed in the test grid
    (one disposed and closed), one in the second grid, and one reported in 云龙区's grid (二类)."""
    from citykeeper.store.models import Area

    second = Area.objects.create(code="320302001001002", name="第二网格", level="grid", parent=city.grid.parent)
    lookalike = Area.objects.create(code="3203020010010010", name="相似网格", level="grid", parent=city.grid.parent)
    for n, grid in enumerate([city.grid, city.grid, city.grid, second, city.other_grid]):
        at = MONDAY + dt.timedelta(minutes=10 * n)
        case = report_case(city, people, at=at, grid=grid)
        if grid == city.other_grid:  # out of the first district's staff's scope: reported only
            continue
        case = _walk(
            case,
            [
                (case_service.accept, people.operator, MoveInput()),
                (case_service.file, people.shift_lead, MoveInput(condition=city.condition)),
                (case_service.dispatch, people.dispatcher, MoveInput(unit=city.unit)),
            ],
            at,
        )
        if n == 0:
            finished(city, people, case, people.handler, at + dt.timedelta(hours=1))
    return second, lookalike


def test_every_region_level_is_the_sum_of_its_grids_scored_at_grid_level(two_grids):
    from fractions import Fraction

    from citykeeper.store.models import Area

    second, _lookalike = two_grids
    paths = dict(Area.objects.values_list("pk", "path"))
    for code in ("region-1", "region-2"):
        grids = evaluate(OCTOBER, code, now=NOW, level="grid", comparisons=False).results.subjects
        for level in ("community", "street", "district"):
            regions = evaluate(OCTOBER, code, now=NOW, level=level, comparisons=False).results.subjects
            assert regions, (code, level)
            for sid, region in regions.items():
                mine = [grids[g] for g in grids if paths[g].startswith(f"{paths[sid]}/")]
                assert mine, (code, level, sid)
                for name, figure in region.indicators.items():
                    assert figure.numerator == sum(r.indicators[name].numerator for r in mine), (level, name)
                    if figure.denominator is not None:
                        assert figure.denominator == sum(r.indicators[name].denominator for r in mine), (level, name)
    grids = evaluate(OCTOBER, "region-1", now=NOW, level="grid", comparisons=False).results.subjects
    assert grids[second.pk].indicators["filed"].value == 1
    # 第一社区 has three grids: 4 cases filed are 4/3 per grid, scored in the band "1–2" (90).
    communities = evaluate(OCTOBER, "region-1", now=NOW, level="community", comparisons=False).results.subjects
    (community,) = communities.values()
    filed = next(item for item in community.items if item.indicator == "filed")
    assert (filed.value, filed.score) == (Fraction(4, 3), 90)


def test_an_inspectors_patrol_area_is_every_grid_at_or_below_it_and_no_lookalike(city, people, two_grids):
    from citykeeper.domain.workflow import Role
    from citykeeper.services.evaluation import patrol_grids
    from tests.factories import make_user

    second, lookalike = two_grids
    at_grid = make_user("at-grid", Role.INSPECTOR, area=city.grid)
    at_community = make_user("at-community", Role.INSPECTOR, area=city.grid.parent)
    nowhere = make_user("nowhere", Role.INSPECTOR)
    found = patrol_grids([at_grid.pk, at_community.pk, people.inspector.pk, nowhere.pk])
    assert found == {
        at_grid.pk: [city.grid.pk],
        at_community.pk: [city.grid.pk, lookalike.pk, second.pk],  # in path order
        people.inspector.pk: [city.grid.pk, lookalike.pk, second.pk],  # the whole district
    }
