"""docs/benchmarks.md: each benchmark rewrites its own section and keeps the others."""

from __future__ import annotations

from citykeeper.benchmarks import HEADER, write_section


def test_a_section_is_appended_then_replaced_in_place_keeping_the_others(tmp_path):
    path = tmp_path / "benchmarks.md"
    write_section(path, "## Demo load", "## Demo load\n\nfirst run\n")
    write_section(path, "## Locating", "## Locating\n\nindex table\n")
    write_section(path, "## Demo load", "## Demo load\n\nsecond run\n")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER)
    assert "first run" not in text and "second run" in text and "index table" in text
    assert text.index("## Demo load") < text.index("## Locating")


# ------------------------------------------------------------------ bench/console.py's synthetic cases


def _console_bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "console.py"
    spec = importlib.util.spec_from_file_location("bench_console", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_console_benchmark_fills_the_table_with_valid_cases_mostly_closed(city, people):
    import datetime as dt

    from django.db.models import Count

    from citykeeper.domain.workflow import STATE_STAGE, TERMINAL_STATES, State
    from citykeeper.services import queues
    from citykeeper.store.models import Case
    from tests.factories import MONDAY_9AM, report_case

    report_case(city, people)  # a real case first: the generator fills up to the total
    now = MONDAY_9AM + dt.timedelta(hours=1)
    made = _console_bench().generate(2000, now=now, batch=300)

    assert made["written"] == 1999 and Case.objects.count() == 2000
    assert Case.objects.values("number").distinct().count() == 2000
    by_state = dict(Case.objects.values_list("state").annotate(n=Count("pk")))
    open_states = {s.value for s in State} - {s.value for s in TERMINAL_STATES}
    n_open = sum(n for s, n in by_state.items() if s in open_states)
    assert 30 <= n_open <= 100  # about 3 % of 2,000, over many open states
    assert len(set(by_state) & open_states) >= 8
    grid_paths = {city.grid.pk: city.grid.path, city.other_grid.pk: city.other_grid.path}
    second = dt.timedelta(seconds=1)
    for case in Case.objects.exclude(pk=Case.objects.order_by("pk").first().pk):
        assert case.area_path == grid_paths[case.area_id]
        assert case.reported_at < now
        if case.state not in open_states:
            assert case.stage == "" and case.stage_deadline_at is None and case.next_deadline_at is None
            assert case.closed_at >= case.reported_at
            continue
        assert case.stage == STATE_STAGE[State(case.state)].value
        assert case.reported_at <= case.stage_started_at <= now
        if case.state == "suspended":
            assert case.stage_remaining_seconds > 0 and case.stage_deadline_at is None
            continue
        assert case.stage_started_at < case.stage_warn_at < case.stage_deadline_at
        assert case.stage_overdue == (case.stage_deadline_at <= now) or abs(case.stage_deadline_at - now) <= second
        assert case.stage_warned or case.stage_warn_at > now - second
        assert case.next_deadline_at == (
            None if case.stage_overdue else case.stage_deadline_at if case.stage_warned else case.stage_warn_at
        )
        if case.stage == "dispose":
            assert case.unit_id in (city.unit.pk, city.other_unit.pk) and case.dispatched_at is not None
    # The console counts what was written: every 待受理 case of the district is in the queue.
    in_district = Case.objects.filter(state="reported", area_path__startswith=city.district.path)
    assert queues.counts(people.operator, now)["reported"] == in_district.count()
