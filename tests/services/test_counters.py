"""Evaluation counters kept as events are written equal the ones rebuilt from the log."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
from collections import Counter

import pytest
from django.db import connection, transaction

from citykeeper.domain.errors import DomainError
from citykeeper.domain.evaluation.counters import BY_NAME, Subject
from citykeeper.jobs.ticker import tick
from citykeeper.services import cases as svc
from citykeeper.services import counters
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseContribution, EvaluationCounter
from tests.factories import MONDAY_9AM, close_case, make_city, make_personas, report_case

pytestmark = pytest.mark.django_db


def contributions_table() -> dict[int, list]:
    return dict(CaseContribution.objects.values_list("case_id", "contributions"))


# ---------------------------------------------------------------- a random walk over the lifecycle


def _moves(case: Case, c, p, rng: random.Random):
    """The moves that make sense for ``case`` now: (verb, actor, data)."""
    handler = p.handler if case.unit_id == c.unit.pk else p.other_handler
    inspector = rng.choice([p.inspector, p.other_inspector])
    reason = MoveInput(reason="原因")
    table = {
        "reported": (
            [(svc.accept, p.operator, MoveInput())] * 4 + [(svc.self_dispose, p.inspector, MoveInput(reason="已处理"))]
            if case.source == "inspector"
            else [(svc.send_verify, p.operator, MoveInput(assignee=inspector))] * 4
        )
        + [(svc.reject, p.operator, reason)],
        "verifying": [(svc.verify, case.assignee, MoveInput(found=rng.random() < 0.85))],
        "verified": [
            (svc.accept if case.verification_found else svc.reject, p.operator, reason),
            (svc.send_verify, p.operator, MoveInput(assignee=inspector)),
        ],
        "self_disposed": [(svc.close, p.shift_lead, MoveInput()), (svc.refuse_self_disposal, p.operator, reason)],
        "accepted": [(svc.file, p.shift_lead, MoveInput(condition=c.condition))] * 4
        + [(svc.void, p.shift_lead, reason)],
        "filed": [(svc.dispatch, p.dispatcher, MoveInput(unit=rng.choice([c.unit, c.other_unit])))] * 4
        + [(svc.void, p.shift_lead, reason)],
        "dispatched": [(svc.dispose, handler, MoveInput(reason="已处理"))] * 3
        + [(svc.request_return, handler, reason)] * 2
        + [
            (
                svc.request_extension,
                handler,
                MoveInput(reason="需要时间", extension_value=1, extension_unit="work_days"),
            ),
            (svc.request_suspension, handler, reason),
            (svc.urge, p.leader, reason),
            (svc.receive, handler, MoveInput()),
        ],
        "return_requested": [(svc.approve_return, p.dispatcher, MoveInput())] * 2
        + [(svc.deny_return, p.dispatcher, reason)],
        "extension_requested": [
            (svc.approve_extension, p.dispatcher, MoveInput()),
            (svc.deny_extension, p.dispatcher, reason),
        ],
        "suspension_requested": [
            (svc.approve_suspension, p.dispatcher, MoveInput()),
            (svc.deny_suspension, p.dispatcher, reason),
        ],
        "suspended": [(svc.resume, p.dispatcher, MoveInput())],
        "disposed": [(svc.send_check, p.operator, MoveInput(assignee=inspector))],
        "checking": [(svc.check_pass, case.assignee, MoveInput())] * 2 + [(svc.check_fail, case.assignee, reason)],
        "check_failed": [(svc.rework, p.shift_lead, MoveInput())],
        "checked": [(svc.close, p.shift_lead, MoveInput())],
        "closed": [(svc.reopen, p.citizen, MoveInput(reason="没修好")), (svc.rate, p.citizen, MoveInput(rating=4))],
        "reopened": [
            (svc.send_check, p.operator, MoveInput(assignee=inspector)),
            (svc.rework, p.shift_lead, MoveInput()),
            (svc.uphold, p.operator, reason),
        ],
    }
    return table.get(case.state, [])


def walk(c, p, *, seed: int, cases: int, steps: int) -> int:
    """Report ``cases`` cases and make ``steps`` random moves among them on one clock that
    sometimes jumps hours or days (so deadlines pass and the ticker marks them)."""
    rng = random.Random(seed)
    now = MONDAY_9AM
    numbers = []
    for i in range(cases):
        now += dt.timedelta(minutes=rng.randint(1, 30))
        source = "inspector" if i % 3 else "citizen"
        numbers.append(report_case(c, p, at=now, source=source).number)
    moved = 0
    for _ in range(steps):
        now += rng.choice([dt.timedelta(minutes=rng.randint(1, 20))] * 6 + [dt.timedelta(hours=rng.randint(2, 60))])
        tick(now)
        case = Case.objects.get(number=rng.choice(numbers))
        options = _moves(case, c, p, rng)
        if not options:
            continue
        verb, actor, data = rng.choice(options)
        try:
            verb(case.number, actor=actor, version=case.version, at=now, data=data)
            moved += 1
        except DomainError:
            pass  # a guard said no (a case reopened twice, a reporter rating twice): fine
    tick(now + dt.timedelta(days=10))
    return moved


def test_counters_kept_move_by_move_equal_the_ones_rebuilt_from_the_event_log(city, people):
    reached: set[str] = set()
    for seed in (1, 2, 3):  # three walks, one after the other, each checked against a rebuild
        city.category.key_problem = seed % 2 == 1  # the key dimension, both ways
        city.category.save()
        counters.rebuild()  # the flag changed: "changing it needs a rebuild"
        moved = walk(city, people, seed=seed, cases=25, steps=700)
        assert moved > 150
        kept, kept_contributions = counters.rows(), contributions_table()
        kept_subjects = counters.subject_rows()
        assert kept and all(value != 0 for *_, value in kept) and kept_subjects

        done = counters.rebuild(batch=7)  # a small batch: several round trips of both streams
        assert done["cases"] == 25 * seed and done["rows"] == len(kept)
        assert counters.rows() == kept, seed
        assert contributions_table() == kept_contributions, seed
        assert counters.subject_rows() == kept_subjects, seed
        reached |= {row[2] for row in kept}
    # The walks reached the interesting parts of the lifecycle.
    for name in ("returned", "extended", "suspended", "rework", "reopened", "overdue_undisposed", "verify_due"):
        assert name in reached, name


def test_a_report_after_midnight_beijing_time_counts_on_that_local_day_both_kept_and_rebuilt(city, people):
    # 17:30 UTC on Monday is 01:30 on Tuesday in Beijing: the day of the count is Tuesday.
    late_evening_utc = dt.datetime.combine(MONDAY_9AM.date(), dt.time(17, 30), dt.UTC)
    report_case(city, people, at=late_evening_utc)
    tuesday = MONDAY_9AM.date() + dt.timedelta(days=1)

    kept = [row for row in counters.rows() if row[0] == "day" and row[2] == "reported"]
    counters.rebuild()
    rebuilt = [row for row in counters.rows() if row[0] == "day" and row[2] == "reported"]

    assert {row[1] for row in kept} == {tuesday}
    assert rebuilt == kept


def test_a_case_with_an_old_report_time_and_a_new_id_still_counts_in_days_the_rebuild_has_written(city, people):
    # The rebuild writes a day's rows out once it reads cases reported two days later (ids
    # follow report times); an imported case breaks that order and must not be lost.
    recent = report_case(city, people, at=MONDAY_9AM + dt.timedelta(days=10))
    close_case(city, people, recent, at=MONDAY_9AM + dt.timedelta(days=10, minutes=1))
    imported = report_case(city, people, at=MONDAY_9AM, source="citizen")
    close_case(city, people, imported, at=MONDAY_9AM + dt.timedelta(minutes=1))
    assert imported.pk > recent.pk
    kept, kept_subjects = counters.rows(), counters.subject_rows()

    done = counters.rebuild(batch=1)

    assert done["late_rows"] > 0  # the imported case's day and month rows came late
    assert counters.rows() == kept and counters.subject_rows() == kept_subjects
    both_days = {MONDAY_9AM.date(), (MONDAY_9AM + dt.timedelta(days=10)).date()}
    assert {row[1] for row in kept if row[0] == "day"} >= both_days


@pytest.mark.django_db(transaction=True)  # the other processes read committed rows only
@pytest.mark.parametrize("late_through_copy", [False, True])
def test_a_rebuild_in_three_processes_writes_the_same_rows_as_keeping_them_move_by_move(
    city, people, monkeypatch, late_through_copy
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite rebuilds in one process: other processes cannot read its snapshot")
    walk(city, people, seed=6, cases=24, steps=400)
    imported = report_case(city, people, at=MONDAY_9AM - dt.timedelta(days=40), source="citizen")
    close_case(city, people, imported, at=MONDAY_9AM - dt.timedelta(days=40, minutes=-5))
    kept, kept_contributions, kept_subjects = counters.rows(), contributions_table(), counters.subject_rows()
    if late_through_copy:  # few late rows go through _apply; many through a temporary table
        monkeypatch.setattr(counters, "UPSERT_BATCH", 1)

    done = counters.rebuild(processes=3, batch=4)

    assert done["processes"] >= 2 and done["cases"] == 25  # fewer when two shares would start on one day
    assert done["late_rows"] > 0  # the shares split days: their rows met at the end
    assert counters.rows() == kept
    assert contributions_table() == kept_contributions
    assert counters.subject_rows() == kept_subjects


@pytest.mark.django_db(transaction=True)
def test_the_shares_of_a_rebuild_start_at_a_month_where_they_can_and_none_is_empty(city, people):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL rebuilds in several processes")
    ids = [report_case(city, people, at=MONDAY_9AM + dt.timedelta(days=day)).pk for day in (0, 1, 2, 40, 41, 42)]
    second_month = (MONDAY_9AM + dt.timedelta(days=40)).astimezone(counters._tz()).date().replace(day=1)

    two = counters._shares(2)
    many = counters._shares(12)

    assert [share.cases[0] for share in two] == [ids[0], min(i for i in ids[3:])]
    assert two[1].owns[0] == second_month and two[0].owns == (dt.date.min, second_month)
    assert all(a.cases[1] == b.cases[0] and a.owns[1] == b.owns[0] for a, b in itertools.pairwise(many))
    assert all(Case.objects.filter(pk__gte=lo, pk__lt=hi).exists() for lo, hi in (s.cases for s in many))


def test_every_counter_adds_up_to_the_same_total_over_each_kind_of_subject(city, people):
    walk(city, people, seed=5, cases=20, steps=300)
    totals: dict[tuple[str, str], int] = Counter()
    for grain, _day, counter, kind, _subject, _key, value in counters.rows():
        if grain == "day":
            totals[(counter, kind)] += value
    for (counter, kind), total in totals.items():
        for other in BY_NAME[counter].subjects:
            if Subject.INSPECTOR in (kind, other) and counter in ("reported", "valid_report"):
                continue  # public reports credit no inspector
            assert totals[(counter, other.value)] == total, (counter, kind, other)


def test_month_rows_are_the_sums_of_their_days(city, people):
    walk(city, people, seed=4, cases=15, steps=200)
    months: dict[tuple, int] = Counter()
    stored: dict[tuple, int] = {}
    for grain, day, counter, kind, subject, key, value in counters.rows():
        if grain == "day":
            months[(day.replace(day=1), counter, kind, subject, key)] += value
        else:
            stored[(day, counter, kind, subject, key)] = value
    assert stored == {k: v for k, v in months.items() if v}


def test_the_demos_counters_are_built_once_after_its_history_and_rebuild_the_same(db):
    from citykeeper.demo.loader import load_demo

    load_demo(now=MONDAY_9AM, days=3, cases_per_day=40, base_data=False)
    kept, kept_subjects = counters.rows(), counters.subject_rows()
    assert len(kept) > 100
    counters.rebuild()
    assert counters.rows() == kept and counters.subject_rows() == kept_subjects


# ---------------------------------------------------------------- one move


def test_a_late_disposal_moves_the_due_disposal_from_the_deadline_day_to_the_disposal_day(city, people):
    case = report_case(city, people)
    for verb, actor, data in [
        (svc.accept, people.operator, MoveInput()),
        (svc.file, people.shift_lead, MoveInput(condition=city.condition)),
        (svc.dispatch, people.dispatcher, MoveInput(unit=city.unit)),
    ]:
        case = verb(case.number, actor=actor, version=case.version, at=MONDAY_9AM + dt.timedelta(minutes=5), data=data)
    deadline = Case.objects.get(pk=case.pk).stage_deadline_at  # 4 working hours: Monday afternoon
    tick(deadline + dt.timedelta(minutes=1))

    def due():
        return {
            day: v for day, v in counters.read(dt.date(2026, 11, 1), dt.date(2026, 11, 30), ["dispose_due"]).items()
        }

    def unit_rows(counter):
        return dict(
            EvaluationCounter.objects.filter(grain="day", counter=counter, subject_kind="unit").values_list(
                "period_start", "value"
            )
        )

    assert unit_rows("dispose_due") == {dt.date(2026, 11, 23): 1}
    assert unit_rows("overdue_undisposed") == {dt.date(2026, 11, 23): 1}
    case = Case.objects.get(pk=case.pk)
    svc.dispose(
        case.number,
        actor=people.handler,
        version=case.version,
        at=MONDAY_9AM + dt.timedelta(days=2),
        data=MoveInput(reason="已处理"),
    )
    assert unit_rows("dispose_due") == {dt.date(2026, 11, 25): 1}  # the zero row of Monday is gone
    assert unit_rows("overdue_undisposed") == {}
    assert sum(due().values()) == 2  # grid and unit, for the month


def test_one_move_with_its_counters_takes_a_handful_of_queries(city, people, django_assert_max_num_queries):
    case = report_case(city, people)
    case = svc.accept(case.number, actor=people.operator, version=case.version, at=MONDAY_9AM)
    case = svc.file(
        case.number,
        actor=people.shift_lead,
        version=case.version,
        at=MONDAY_9AM,
        data=MoveInput(condition=city.condition),
    )
    case = svc.dispatch(
        case.number, actor=people.dispatcher, version=case.version, at=MONDAY_9AM, data=MoveInput(unit=city.unit)
    )
    with django_assert_max_num_queries(6) as counted:
        counters.record_case(case.pk, kind="dispose")
    counting = len(counted)
    # The whole dispose move: the move's own queries plus the counters' (facts and earlier
    # contribution, events, units, one upsert, the new contribution).
    with django_assert_max_num_queries(counting + 10):
        svc.dispose(case.number, actor=people.handler, version=case.version, at=MONDAY_9AM, data=MoveInput(reason="好"))
    with django_assert_max_num_queries(0):
        counters.record_case(case.pk, kind="deadline_warning")


# ---------------------------------------------------------------- reading


def test_reading_a_range_of_two_partial_months_and_a_whole_one_equals_the_sum_of_its_days(city, people):
    for day in (dt.date(2026, 10, 20), dt.date(2026, 10, 31), dt.date(2026, 11, 15), dt.date(2026, 12, 1)):
        at = MONDAY_9AM.replace(year=day.year, month=day.month, day=day.day)
        close_case(city, people, report_case(city, people, at=at), at=at)
    first, last = dt.date(2026, 10, 25), dt.date(2026, 12, 1)
    expected: dict[tuple, int] = Counter()
    for counter, kind, subject, key, value in EvaluationCounter.objects.filter(
        grain="day", period_start__gte=first, period_start__lte=last
    ).values_list("counter", "subject_kind", "subject_id", "key", "value"):
        expected[(counter, kind, subject, key)] += value
    got = counters.read(first, last)
    assert got == dict(expected)
    assert got[("reported", "grid", city.grid.pk, 0)] == 3  # the 31st, the 15th (whole November) and the 1st
    assert counters.read(first, last, ["closed"], "unit") == {("closed", "unit", city.unit.pk, 0): 3}


def test_reading_one_whole_month_equals_the_sum_of_its_days(city, people):
    for day in (dt.date(2026, 9, 30), dt.date(2026, 10, 1), dt.date(2026, 10, 20), dt.date(2026, 11, 2)):
        at = MONDAY_9AM.replace(year=day.year, month=day.month, day=day.day)
        close_case(city, people, report_case(city, people, at=at), at=at)
    first, last = dt.date(2026, 10, 1), dt.date(2026, 10, 31)
    expected: dict[tuple, int] = Counter()
    for counter, kind, subject, key, value in EvaluationCounter.objects.filter(
        grain="day", period_start__gte=first, period_start__lte=last
    ).values_list("counter", "subject_kind", "subject_id", "key", "value"):
        expected[(counter, kind, subject, key)] += value
    got = counters.read(first, last)
    assert got == dict(expected)
    assert got[("reported", "grid", city.grid.pk, 0)] == 2  # the 1st and the 20th
    assert counters.read(first, last, ["closed"], "unit") == {("closed", "unit", city.unit.pk, 0): 2}
    assert counters.read(first, last, [], "unit") == {}


def test_the_range_is_split_into_whole_months_and_leftover_days():
    months, days = counters._months(dt.date(2026, 1, 15), dt.date(2026, 4, 1))
    assert months == [dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    assert days == [(dt.date(2026, 1, 15), dt.date(2026, 1, 31)), (dt.date(2026, 4, 1), dt.date(2026, 4, 1))]
    assert counters._months(dt.date(2026, 2, 1), dt.date(2026, 2, 28)) == ([dt.date(2026, 2, 1)], [])


def test_the_command_line_rebuilds_and_says_what_it_did(city, people, capsys):
    close_case(city, people, report_case(city, people))
    from citykeeper.cli import cmd_evaluate

    class Args:
        rebuild = True

    assert cmd_evaluate(Args()) == 0
    out = capsys.readouterr().out
    assert out.startswith("cases 1, events 8, rows ")


# ---------------------------------------------------------------- two writers at once


@pytest.mark.django_db(transaction=True)
@pytest.mark.concurrency
def test_two_cases_adding_to_the_same_counter_rows_at_once_lose_nothing():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs two PostgreSQL connections")
    city = make_city()
    people = make_personas(city)
    cases = [report_case(city, people) for _ in range(8)]
    barrier = threading.Barrier(len(cases))
    errors = []

    def accept(case):
        try:
            barrier.wait()
            with transaction.atomic():
                svc.accept(case.number, actor=people.operator, version=case.version, at=MONDAY_9AM)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(case,)) for case in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    row = EvaluationCounter.objects.get(grain="day", counter="accepted", subject_kind="operator")
    assert row.value == len(cases)
    kept = counters.rows()
    counters.rebuild()
    assert counters.rows() == kept


def test_deferred_upkeep_leaves_the_counters_alone_and_rebuilds_them_once_at_the_end(city, people):
    close_case(city, people, report_case(city, people))
    before = counters.rows()
    with counters.deferred():
        close_case(city, people, report_case(city, people, at=MONDAY_9AM + dt.timedelta(hours=1)))
        assert counters.rows() == before  # nothing kept move by move
    after = counters.rows()
    assert after != before
    assert sum(v for g, _d, c, k, *_rest, v in after if (g, c, k) == ("day", "closed", "unit")) == 2
    counters.rebuild()
    assert counters.rows() == after


# ---------------------------------------------------------------- the stored form


def test_a_cases_contributions_are_stored_as_compact_text_and_read_back_as_the_same_entries():
    first, second = dt.date(2026, 10, 3), dt.date(2026, 10, 5)
    by_day = {
        first: {("reported", "grid", 12, 0): 1, ("reported", "inspector", 7, 0): 1},
        second: {
            ("handling_seconds", "unit", 3, 0): 86400,
            ("closed", "unit", 3, 41): 1,  # a key problem: the value is written before the key
        },
    }
    by_day[first][("dispatched", "unit", 0, 0)] = 1  # no unit in particular
    text, spans = counters.stored(by_day)
    assert text == (
        "2026-10-03=reported grid 12,reported inspector 7,dispatched unit 0;"
        "2026-10-05=handling_seconds unit 3 86400,closed unit 3 1 41"
    )
    assert counters._from_text(text) == {
        ("reported", first, "grid", 12, 0): 1,
        ("reported", first, "inspector", 7, 0): 1,
        ("dispatched", first, "unit", 0, 0): 1,
        ("handling_seconds", second, "unit", 3, 0): 86400,
        ("closed", second, "unit", 3, 41): 1,
    }
    assert spans == {
        ("grid", 12): ["2026-10-03", "2026-10-03"],
        ("inspector", 7): ["2026-10-03", "2026-10-03"],
        ("unit", 3): ["2026-10-05", "2026-10-05"],
        ("unit", 0): ["2026-10-03", "2026-10-03"],
    }
    assert counters.stored({}) == ("", {})
    assert counters._from_text("") == {} and counters._from_text(None) == {}


def test_a_subject_credited_on_several_days_spans_from_its_first_to_its_last_whatever_their_order():
    late, early, middle = dt.date(2026, 10, 9), dt.date(2026, 10, 2), dt.date(2026, 10, 5)
    entry = ("urged", "unit", 3, 0)
    _text, spans = counters.stored({late: {entry: 1}, early: {entry: 1}, middle: {entry: 1}})
    assert spans == {("unit", 3): ["2026-10-02", "2026-10-09"]}


def test_a_case_whose_entries_are_unchanged_but_stored_in_another_order_is_stored_again(city, people):
    case = report_case(city, people)
    row = CaseContribution.objects.get(case=case)
    days = row.contributions.split(";")
    entries = days[0].split("=")[1].split(",")
    assert len(entries) > 1
    reordered = f"{days[0].split('=')[0]}={','.join(reversed(entries))}"
    CaseContribution.objects.filter(case=case).update(contributions=";".join([reordered, *days[1:]]))
    before = counters.rows()

    counters.record_case(case.pk)

    assert CaseContribution.objects.get(case=case).contributions == row.contributions  # as a rebuild writes it
    assert counters.rows() == before  # and nothing counted twice
