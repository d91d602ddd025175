"""What a case contributes to the evaluation counters, worked out by hand for small histories."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from citykeeper.domain.evaluation.contributions import CaseFacts, EventFacts, contributions, contributions_by_day

TZ = ZoneInfo("Asia/Shanghai")
GRID = 7
INSPECTOR, OPERATOR, LEAD, DISPATCHER, HANDLER, CITIZEN, OTHER_INSPECTOR = 11, 12, 13, 14, 15, 16, 17
UNITS = {"U1": 101, "U2": 102}
D1, D2, D3, D4, D5 = (dt.date(2026, 11, d) for d in (23, 24, 25, 26, 27))


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def ev(kind, when, actor, frm, to, *, on_time=None, deadline=None, data=None, deadline_at=None):
    """An event; ``on_time`` given means the move stopped a stage and recorded its outcome."""
    outcome = None
    if on_time is not None:
        outcome = {
            "stage": "",
            "started_at": when.isoformat(),
            "deadline_at": (deadline or when).isoformat(),
            "ended_at": when.isoformat(),
            "on_time": on_time,
            "used_seconds": 0,
            "limit_seconds": 0,
        }
    role = "system" if actor is None else "x"
    return EventFacts(kind, when, actor, role, frm, to, outcome, data or {}, deadline_at)


def overdue(when, state, stage):
    return EventFacts("deadline_overdue", when, None, "system", state, state, None, {"stage": stage}, None)


def inspector_case(**kw) -> CaseFacts:
    return CaseFacts(source="inspector", grid_id=GRID, key=0, reporter_id=INSPECTOR, **kw)


def public_case(**kw) -> CaseFacts:
    return CaseFacts(source="citizen", grid_id=GRID, key=0, reporter_id=CITIZEN, **kw)


def of(case, events):
    return contributions(case, events, tz=TZ, unit_ids=UNITS)


def k(counter, day, kind, subject):
    return (counter, day, kind, subject, 0)


def grid_unit(counter, day, unit=101, n=1):
    return {k(counter, day, "grid", GRID): n, k(counter, day, "unit", unit): n}


def report(day=D1, source_actor=INSPECTOR):
    return ev("report", at(day, 9), source_actor, "", "reported")


def to_dispatch(day=D1, unit="U1"):
    """Accept, file and dispatch a reported inspector case, on time, minutes apart."""
    return [
        ev("accept", at(day, 9, 5), OPERATOR, "reported", "accepted", on_time=True),
        ev("file", at(day, 9, 10), LEAD, "accepted", "filed", on_time=True),
        ev("dispatch", at(day, 9, 15), DISPATCHER, "filed", "dispatched", on_time=True, data={"unit": unit}),
    ]


def check_and_close(day=D1, hour=15):
    return [
        ev("send_check", at(day, hour, 5), OPERATOR, "disposed", "checking", on_time=True, data={"assignee": "i"}),
        ev("check_pass", at(day, hour, 20), INSPECTOR, "checking", "checked", on_time=True),
        ev("close", at(day, hour, 30), LEAD, "checked", "closed", on_time=True),
    ]


def test_a_plain_on_time_case_counts_once_for_everyone_who_touched_it_on_the_day():
    events = [
        report(),
        *to_dispatch(),
        ev("dispose", at(D1, 15), HANDLER, "dispatched", "disposed", on_time=True),
        *check_and_close(),
    ]
    handled = int((at(D1, 15, 30) - at(D1, 9)).total_seconds())
    expected = {
        k("reported", D1, "grid", GRID): 1,
        k("reported", D1, "inspector", INSPECTOR): 1,
        k("valid_report", D1, "grid", GRID): 1,
        k("valid_report", D1, "inspector", INSPECTOR): 1,
        k("accepted", D1, "grid", GRID): 1,
        k("accepted", D1, "operator", OPERATOR): 1,
        k("filed", D1, "grid", GRID): 1,
        k("filed", D1, "shift_lead", LEAD): 1,
        k("filed_on_time", D1, "shift_lead", LEAD): 1,
        k("filed_accurately", D1, "shift_lead", LEAD): 1,
        **grid_unit("dispatched", D1),
        k("dispatched", D1, "dispatcher", DISPATCHER): 1,
        k("dispatched_on_time", D1, "dispatcher", DISPATCHER): 1,
        k("dispatched_accurately", D1, "dispatcher", DISPATCHER): 1,
        **grid_unit("dispose_due", D1),
        **grid_unit("disposed", D1),
        **grid_unit("disposed_on_time", D1),
        k("check_sent_due", D1, "operator", OPERATOR): 1,
        k("check_sent_on_time", D1, "operator", OPERATOR): 1,
        k("check_due", D1, "inspector", INSPECTOR): 1,
        k("checked_on_time", D1, "inspector", INSPECTOR): 1,
        **grid_unit("closed", D1),
        k("closed", D1, "shift_lead", LEAD): 1,
        **grid_unit("close_due", D1),
        k("close_due", D1, "shift_lead", LEAD): 1,
        **grid_unit("closed_on_time", D1),
        k("close_stage_on_time", D1, "shift_lead", LEAD): 1,
        **grid_unit("handling_seconds", D1, n=handled),
    }
    assert of(inspector_case(), events) == expected


def test_an_overdue_undisposed_case_is_due_on_its_deadline_day_and_overdue_there():
    events = [report(), *to_dispatch(), overdue(at(D2, 17), "dispatched", "dispose")]
    got = of(inspector_case(), events)
    for counter in ("dispose_due", "overdue_undisposed", "overdue_unclosed"):
        assert {key: v for key, v in got.items() if key[0] == counter} == grid_unit(counter, D2), counter
    # Not closed: due for closing on the deadline day, with no shift lead to name yet.
    assert {key: v for key, v in got.items() if key[0] == "close_due"} == {
        **grid_unit("close_due", D2),
        k("close_due", D2, "shift_lead", 0): 1,
    }
    assert not any(key[0] in ("disposed", "closed") for key in got)


def test_a_late_disposal_moves_its_due_from_the_deadline_day_to_the_disposal_day():
    late = [
        report(),
        *to_dispatch(),
        overdue(at(D2, 17), "dispatched", "dispose"),
        ev("dispose", at(D3, 10), HANDLER, "dispatched", "disposed", on_time=False, deadline=at(D2, 17)),
    ]
    got = of(inspector_case(), late)
    assert {key: v for key, v in got.items() if key[0] == "dispose_due"} == grid_unit("dispose_due", D3)
    assert {key: v for key, v in got.items() if key[0] == "disposed"} == grid_unit("disposed", D3)
    assert not any(key[0] in ("disposed_on_time", "overdue_undisposed") for key in got)
    # Disposed late and not closed yet: past the disposal deadline (its day) and not closed.
    assert {key: v for key, v in got.items() if key[0] == "overdue_unclosed"} == grid_unit("overdue_unclosed", D2)

    closed = of(inspector_case(), [*late, *check_and_close(D3)])
    assert {key: v for key, v in closed.items() if key[0] == "close_due"} == {
        **grid_unit("close_due", D3),
        k("close_due", D3, "shift_lead", LEAD): 1,
    }
    assert not any(key[0] in ("closed_on_time", "overdue_unclosed") for key in closed)


def test_an_approved_return_makes_the_dispatch_inaccurate_and_the_disposal_not_due_for_that_unit():
    events = [
        report(),
        *to_dispatch(unit="U1"),
        ev("request_return", at(D1, 10), HANDLER, "dispatched", "return_requested"),
        ev("approve_return", at(D1, 11), DISPATCHER, "return_requested", "filed", on_time=True),
        ev("dispatch", at(D1, 11, 5), DISPATCHER, "filed", "dispatched", on_time=True, data={"unit": "U2"}),
        ev("dispose", at(D2, 10), HANDLER, "dispatched", "disposed", on_time=True),
    ]
    got = of(inspector_case(), events)
    assert got[k("dispatched", D1, "dispatcher", DISPATCHER)] == 2
    assert got[k("dispatched", D1, "unit", 101)] == 1 and got[k("dispatched", D1, "unit", 102)] == 1
    assert got[k("dispatched_accurately", D1, "dispatcher", DISPATCHER)] == 1
    assert {key: v for key, v in got.items() if key[0] == "returned"} == grid_unit("returned", D1, unit=101)
    assert {key: v for key, v in got.items() if key[0] == "dispose_due"} == grid_unit("dispose_due", D2, unit=102)


def test_rework_is_credited_to_the_unit_whose_disposal_failed_and_its_second_disposal_is_due_again():
    events = [
        report(),
        *to_dispatch(),
        ev("dispose", at(D1, 15), HANDLER, "dispatched", "disposed", on_time=True),
        ev("send_check", at(D1, 15, 5), OPERATOR, "disposed", "checking", on_time=True),
        ev("check_fail", at(D1, 16), INSPECTOR, "checking", "check_failed", on_time=False),
        ev("rework", at(D2, 9), LEAD, "check_failed", "dispatched", on_time=True),
        ev("dispose", at(D2, 15), HANDLER, "dispatched", "disposed", on_time=True),
    ]
    got = of(inspector_case(), events)
    assert {key: v for key, v in got.items() if key[0] == "rework"} == grid_unit("rework", D2)
    assert {key: v for key, v in got.items() if key[0] == "dispose_due"} == {
        **grid_unit("dispose_due", D1),
        **grid_unit("dispose_due", D2),
    }
    assert got[k("check_due", D1, "inspector", INSPECTOR)] == 1
    assert k("checked_on_time", D1, "inspector", INSPECTOR) not in got  # the check itself was late


def test_a_case_voided_after_filing_is_filed_but_not_filed_accurately():
    events = [
        report(),
        ev("accept", at(D1, 9, 5), OPERATOR, "reported", "accepted", on_time=True),
        ev("file", at(D1, 9, 10), LEAD, "accepted", "filed", on_time=True),
        ev("void", at(D2, 9), LEAD, "filed", "voided", on_time=True),
    ]
    got = of(inspector_case(), events)
    assert got[k("filed", D1, "shift_lead", LEAD)] == 1
    assert got[k("voided", D2, "grid", GRID)] == 1
    assert got[k("valid_report", D1, "inspector", INSPECTOR)] == 1
    assert not any(key[0] == "filed_accurately" for key in got)


def test_a_self_disposed_case_is_a_valid_report_and_not_a_filed_closing():
    events = [
        report(),
        ev("self_dispose", at(D1, 9, 10), INSPECTOR, "reported", "self_disposed", on_time=True),
        ev("close", at(D1, 10), LEAD, "self_disposed", "closed", on_time=True),
    ]
    assert of(inspector_case(), events) == {
        k("reported", D1, "grid", GRID): 1,
        k("reported", D1, "inspector", INSPECTOR): 1,
        k("valid_report", D1, "grid", GRID): 1,
        k("valid_report", D1, "inspector", INSPECTOR): 1,
        k("self_disposed", D1, "grid", GRID): 1,
        k("self_disposed", D1, "inspector", INSPECTOR): 1,
    }


def test_a_filed_public_report_is_missed_by_the_grid_and_credits_no_inspector_for_reporting():
    events = [
        report(source_actor=CITIZEN),
        ev("send_verify", at(D1, 9, 5), OPERATOR, "reported", "verifying", on_time=True, data={"assignee": "i"}),
        ev("verify", at(D1, 9, 30), INSPECTOR, "verifying", "verified", on_time=True, data={"found": True}),
        ev("accept", at(D1, 9, 40), OPERATOR, "verified", "accepted", on_time=True),
        ev("file", at(D2, 9), LEAD, "accepted", "filed", on_time=False),
    ]
    assert of(public_case(), events) == {
        k("reported", D1, "grid", GRID): 1,
        k("reported_public", D1, "grid", GRID): 1,
        k("valid_report", D1, "grid", GRID): 1,
        k("verify_sent_due", D1, "operator", OPERATOR): 1,
        k("verify_sent_on_time", D1, "operator", OPERATOR): 1,
        k("verify_due", D1, "inspector", INSPECTOR): 1,
        k("verified_on_time", D1, "inspector", INSPECTOR): 1,
        k("accepted", D1, "grid", GRID): 1,
        k("accepted", D1, "operator", OPERATOR): 1,
        k("filed", D2, "grid", GRID): 1,
        k("filed", D2, "shift_lead", LEAD): 1,
        k("filed_accurately", D2, "shift_lead", LEAD): 1,
        k("missed", D2, "grid", GRID): 1,
    }


def test_a_late_verify_is_due_but_not_on_time_and_an_unanswered_overdue_one_is_due_for_the_assignee():
    sent = [
        report(source_actor=CITIZEN),
        ev("send_verify", at(D1, 10), OPERATOR, "reported", "verifying", on_time=False, data={"assignee": "i"}),
    ]
    late = of(public_case(), [*sent, ev("verify", at(D2, 9), INSPECTOR, "verifying", "verified", on_time=False)])
    assert late[k("verify_due", D2, "inspector", INSPECTOR)] == 1
    assert late[k("verify_sent_due", D1, "operator", OPERATOR)] == 1
    assert not any(key[0] in ("verified_on_time", "verify_sent_on_time") for key in late)

    waiting = of(public_case(assignee_id=OTHER_INSPECTOR), [*sent, overdue(at(D1, 10, 30), "verifying", "verify")])
    assert {key: v for key, v in waiting.items() if key[0] == "verify_due"} == {
        k("verify_due", D1, "inspector", OTHER_INSPECTOR): 1
    }


def test_an_overdue_report_waiting_for_a_verify_task_is_due_for_the_operators_as_a_whole():
    events = [report(source_actor=CITIZEN), overdue(at(D1, 9, 15), "reported", "accept")]
    assert {key: v for key, v in of(public_case(), events).items() if key[0] == "verify_sent_due"} == {
        k("verify_sent_due", D1, "operator", 0): 1
    }
    # An inspector's own report needs no verify task: nothing is due for sending one.
    assert not any(key[0] == "verify_sent_due" for key in of(inspector_case(), events))


def test_check_tasks_on_time_and_late_and_overdue():
    base = [report(), *to_dispatch(), ev("dispose", at(D1, 15), HANDLER, "dispatched", "disposed", on_time=True)]
    late_send = ev("send_check", at(D2, 9), OPERATOR, "disposed", "checking", on_time=False)
    on_time = of(inspector_case(), [*base, *check_and_close()])
    assert on_time[k("checked_on_time", D1, "inspector", INSPECTOR)] == 1
    late = of(
        inspector_case(),
        [*base, late_send, ev("check_pass", at(D2, 11), OTHER_INSPECTOR, "checking", "checked", on_time=False)],
    )
    assert late[k("check_sent_due", D2, "operator", OPERATOR)] == 1
    assert late[k("check_due", D2, "inspector", OTHER_INSPECTOR)] == 1
    assert not any(key[0] in ("check_sent_on_time", "checked_on_time") for key in late)
    unsent = of(inspector_case(), [*base, overdue(at(D1, 15, 30), "disposed", "check")])
    assert {key: v for key, v in unsent.items() if key[0] == "check_sent_due"} == {
        k("check_sent_due", D1, "operator", 0): 1
    }


def test_an_extension_that_moves_the_deadline_ahead_clears_the_overdue_mark():
    events = [
        report(),
        *to_dispatch(),
        overdue(at(D2, 17), "dispatched", "dispose"),
        ev("request_extension", at(D3, 9), HANDLER, "dispatched", "extension_requested"),
        ev(
            "approve_extension",
            at(D3, 10),
            DISPATCHER,
            "extension_requested",
            "dispatched",
            deadline_at=at(D5, 17),
        ),
    ]
    waiting = of(inspector_case(), events)
    assert {key: v for key, v in waiting.items() if key[0] == "extended"} == grid_unit("extended", D3)
    assert not any(key[0] in ("overdue_undisposed", "dispose_due", "overdue_unclosed") for key in waiting)
    disposed = of(
        inspector_case(), [*events, ev("dispose", at(D4, 9), HANDLER, "dispatched", "disposed", on_time=True)]
    )
    assert {key: v for key, v in disposed.items() if key[0] == "disposed_on_time"} == grid_unit("disposed_on_time", D4)
    # One that leaves the deadline in the past keeps the case overdue, from the new deadline.
    short = [*events[:-1], ev("approve_extension", at(D3, 10), DISPATCHER, "x", "dispatched", deadline_at=at(D3, 9))]
    assert {key: v for key, v in of(inspector_case(), short).items() if key[0] == "overdue_undisposed"} == (
        grid_unit("overdue_undisposed", D3)
    )


def test_a_reopened_case_is_no_longer_closed_until_the_centre_upholds_the_closing():
    closed = [
        report(source_actor=CITIZEN),
        ev("send_verify", at(D1, 9, 5), OPERATOR, "reported", "verifying", on_time=True),
        ev("verify", at(D1, 9, 30), INSPECTOR, "verifying", "verified", on_time=True),
        ev("accept", at(D1, 9, 40), OPERATOR, "verified", "accepted", on_time=True),
        ev("file", at(D1, 9, 50), LEAD, "accepted", "filed", on_time=True),
        ev("dispatch", at(D1, 10), DISPATCHER, "filed", "dispatched", on_time=True, data={"unit": "U1"}),
        ev("dispose", at(D1, 15), HANDLER, "dispatched", "disposed", on_time=True),
        *check_and_close(),
    ]
    assert of(public_case(), closed)[k("closed", D1, "unit", 101)] == 1
    reopened = [*closed, ev("reopen", at(D3, 9), None, "closed", "reopened")]
    got = of(public_case(), reopened)
    assert {key: v for key, v in got.items() if key[0] == "reopened"} == grid_unit("reopened", D3)
    assert not any(key[0] in ("closed", "close_due", "handling_seconds") for key in got)
    upheld = of(public_case(), [*reopened, ev("uphold", at(D3, 10), OPERATOR, "reopened", "closed", on_time=True)])
    assert upheld[k("closed", D1, "unit", 101)] == 1 and upheld[k("reopened", D3, "unit", 101)] == 1


def test_the_local_day_decides_and_a_key_problem_carries_its_category():
    late_evening_utc = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)  # 01:00 on the 24th in 徐州
    case = CaseFacts(source="inspector", grid_id=GRID, key=42, reporter_id=INSPECTOR)
    got = of(case, [ev("report", late_evening_utc, INSPECTOR, "", "reported")])
    assert got == {("reported", D2, "grid", GRID, 42): 1, ("reported", D2, "inspector", INSPECTOR, 42): 1}


def test_urges_before_dispatch_count_for_the_grid_and_for_no_unit():
    events = [
        report(),
        ev("urge", at(D1, 9, 1), LEAD, "reported", "reported"),
        *to_dispatch(),
        ev("urge", at(D1, 11), LEAD, "dispatched", "dispatched"),
    ]
    got = of(inspector_case(), events)
    assert got[k("urged", D1, "unit", 0)] == 1 and got[k("urged", D1, "unit", 101)] == 1
    assert got[k("urged", D1, "grid", GRID)] == 2


def test_by_day_the_same_entries_are_grouped_under_their_local_day_and_a_zero_handling_time_is_left_out():
    # Filed, dispatched, disposed, checked and closed within the second it was reported
    # (an import of a finished case), then reopened and upheld the next day: its handling
    # time is 0 and is not an entry.
    instant = at(D1, 9)
    events = [
        ev("report", instant, INSPECTOR, "", "reported"),
        ev("accept", instant, OPERATOR, "reported", "accepted", on_time=True),
        ev("file", instant, LEAD, "accepted", "filed", on_time=True),
        ev("dispatch", instant, DISPATCHER, "filed", "dispatched", on_time=True, data={"unit": "U1"}),
        ev("dispose", instant, HANDLER, "dispatched", "disposed", on_time=True),
        ev("send_check", instant, OPERATOR, "disposed", "checking", on_time=True),
        ev("check_pass", instant, INSPECTOR, "checking", "checked", on_time=True),
        ev("close", instant, LEAD, "checked", "closed", on_time=True),
        ev("reopen", at(D2, 9), None, "closed", "reopened"),
        ev("uphold", at(D2, 10), OPERATOR, "reopened", "closed", on_time=True),  # the closing stands
    ]
    by_day = contributions_by_day(inspector_case(), events, tz=TZ, unit_ids=UNITS)
    assert list(by_day) == [D1, D2]
    assert ("closed", "unit", 101, 0) in by_day[D1]
    assert not any(counter == "handling_seconds" for counter, *_ in by_day[D1])
    assert by_day[D2] == {("reopened", "grid", GRID, 0): 1, ("reopened", "unit", 101, 0): 1}
    flat = of(inspector_case(), events)
    assert flat == {
        (c, day, kind, sid, key): v for day, held in by_day.items() for (c, kind, sid, key), v in held.items()
    }
