"""The demo publishes every scheme for each whole month of its history."""

from __future__ import annotations

import datetime as dt

from citykeeper.demo import load_demo
from citykeeper.demo.evaluations import history_days, whole_months
from citykeeper.domain.evaluation.periods import Period
from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES
from citykeeper.store.models import EvaluationRun
from tests.factories import local


def test_the_history_covers_three_whole_months_and_this_one():
    # 1 August to 21 November 2026, both included.
    assert history_days(local(2026, 11, 21, 9, 0)) == 31 + 30 + 31 + 21 + 1 - 1
    assert history_days(local(2026, 2, 10, 9, 0)) == 31 + 30 + 31 + 10  # from 1 November 2025


def test_only_whole_months_before_today_are_evaluated():
    today = dt.date(2026, 11, 21)
    assert whole_months(dt.date(2026, 8, 1), today) == [Period.month(2026, m) for m in (8, 9, 10)]
    assert whole_months(dt.date(2026, 8, 23), today) == [Period.month(2026, 9), Period.month(2026, 10)]
    assert whole_months(dt.date(2026, 11, 1), today) == []


def test_a_demo_spanning_october_publishes_every_scheme_for_october(db):
    summary = load_demo(now=local(2026, 11, 3, 15, 30), days=36, cases_per_day=4, base_data=False)
    assert summary.loaded and summary.refused_steps == 0, summary.refused
    runs = EvaluationRun.objects.select_related("scheme")
    assert summary.evaluations == len(DEFAULT_SCHEMES) == runs.count()
    assert {r.scheme.code for r in runs} == set(DEFAULT_SCHEMES)
    assert all(r.snapshot_id and r.snapshot_id.startswith("2026-10-") and r.cases for r in runs)
    units = runs.get(scheme__code="unit")
    assert any(s["ranked"] or s["reason"] for s in units.results["subjects"])
    assert sum(int(s["indicators"]["dispatched"]["value"]) for s in units.results["subjects"]) > 50
    # The schemes 抽查 judges run with the recommended version 2, recorded with its reason.
    sampled = {r.scheme.code: r.scheme for r in runs if r.scheme.version == 2}
    assert set(sampled) == {"unit", "inspector", "contractor"}
    assert {s.reason for s in sampled.values()} == {"加入抽查指标"}
    inspectors = runs.get(scheme__code="inspector").results["subjects"]
    assert "false_check_rate" in {item["indicator"] for item in inspectors[0]["items"]}
    assert sum(int(s["indicators"]["sample_checked"]["value"]) for s in inspectors) > 0
