"""The console's work queues: who sees which queue, which case lands where, the counts
in one query, scoping, and the SLA state read from the stored clock fields."""

from __future__ import annotations

import datetime as dt

import pytest

from citykeeper.domain.workflow import Role, State
from citykeeper.services import cases as svc
from citykeeper.services import queues
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case
from tests.factories import MONDAY_9AM, make_user, report_case
from tests.services.test_transitions import bring_to

HOUR = dt.timedelta(hours=1)
# Shortly after bring_to's moves (a minute each from 9:00): no disposal clock has warned yet.
SOON = MONDAY_9AM + dt.timedelta(minutes=20)

EXPECTED_QUEUES = {
    "operator": ["reported", "verified", "verifying", "self_disposed", "disposed", "checking", "reopened"],
    "shift_lead": [
        "reported",
        "verified",
        "verifying",
        "self_disposed",
        "accepted",
        "requests",
        "suspended",
        "checking",
        "check_failed",
        "checked",
        "reopened",
        "urged",
    ],
    "dispatcher": ["filed", "requests", "suspended", "check_failed"],
    "handler": ["unit_new", "unit_in_progress", "unit_waiting", "unit_due_soon", "unit_overdue", "unit_rework"],
    "leader": ["urged"],
    "inspector": [],
    "citizen": [],
}


@pytest.mark.parametrize("persona", sorted(EXPECTED_QUEUES))
def test_each_persona_sees_exactly_its_queues(persona, people):
    assert [q.slug for q in queues.queues_for(getattr(people, persona))] == EXPECTED_QUEUES[persona]


def test_the_table_has_unique_slugs_and_every_open_state_sits_in_some_queue():
    assert len({q.slug for q in queues.QUEUES}) == len(queues.QUEUES)
    queued = {s for q in queues.QUEUES for s in q.states}
    assert {State(s) for s in queued} >= {
        s for s in State if s not in (State.CLOSED, State.REJECTED, State.VOIDED, State.MERGED)
    }


# Where a fresh case in each state lands, for someone holding every console role.
LANDS_IN = {
    State.REPORTED: {"reported"},
    State.VERIFYING: {"verifying"},
    State.VERIFIED: {"verified"},
    State.SELF_DISPOSED: {"self_disposed"},
    State.ACCEPTED: {"accepted"},
    State.FILED: {"filed"},
    State.DISPATCHED: {"unit_new"},
    State.RETURN_REQUESTED: {"requests", "unit_waiting"},
    State.EXTENSION_REQUESTED: {"requests", "unit_waiting"},
    State.SUSPENSION_REQUESTED: {"requests", "unit_waiting"},
    State.SUSPENDED: {"suspended", "unit_waiting"},
    State.DISPOSED: {"disposed"},
    State.CHECKING: {"checking"},
    State.CHECK_FAILED: {"check_failed"},
    State.CHECKED: {"checked"},
    State.REOPENED: {"reopened"},
    State.CLOSED: set(),
    State.REJECTED: set(),
    State.VOIDED: set(),
    State.MERGED: set(),
}


@pytest.fixture
def everyone(city):
    roles = (Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER, Role.UNIT_HANDLER, Role.LEADER)
    return make_user("allroles", *roles, area=city.district, unit=city.unit)


def _slugs_holding(user, case, now=SOON) -> set[str]:
    return {
        q.slug for q in queues.queues_for(user) if queues.queue_cases(user, q.slug, now).filter(pk=case.pk).exists()
    }


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_a_case_in_each_state_lands_in_the_expected_queue(state, city, people, everyone):
    case = bring_to(state, city, people)
    assert len(queues.queues_for(everyone)) == len(queues.QUEUES)
    assert _slugs_holding(everyone, case) == LANDS_IN[state]


def test_urged_and_rework_cases_have_their_own_queues(city, people, everyone):
    urged = bring_to(State.DISPATCHED, city, people)
    svc.urge(urged.number, actor=people.leader, version=urged.version, at=SOON, data=MoveInput(reason="尽快处理"))
    assert _slugs_holding(everyone, urged) == {"unit_new", "urged"}
    assert queues.queue_cases(people.leader, "urged", SOON).filter(pk=urged.pk).exists()

    failed = bring_to(State.CHECK_FAILED, city, people)
    reworked = svc.rework(failed.number, actor=people.dispatcher, version=failed.version, at=SOON)
    assert reworked.rework_count == 1
    assert _slugs_holding(everyone, reworked) == {"unit_rework"}


def test_the_unit_queues_follow_the_stored_deadline(city, people):
    case = bring_to(State.DISPATCHED, city, people)
    handler = people.handler
    assert case.stage_warn_at < case.stage_deadline_at
    assert _slugs_holding(handler, case, SOON) == {"unit_new"}
    assert _slugs_holding(handler, case, case.stage_warn_at + dt.timedelta(seconds=1)) == {"unit_new", "unit_due_soon"}
    assert _slugs_holding(handler, case, case.stage_deadline_at) == {"unit_new", "unit_overdue"}
    # The ticker's flag counts even when the instant is read before it.
    Case.objects.filter(pk=case.pk).update(stage_overdue=True, stage_warned=True)
    assert _slugs_holding(handler, case, SOON) == {"unit_new", "unit_overdue"}


def test_a_received_dispatch_moves_from_new_to_in_progress(city, people):
    case = bring_to(State.DISPATCHED, city, people)
    assert _slugs_holding(people.handler, case) == {"unit_new"}
    received = svc.receive(case.number, actor=people.handler, version=case.version, at=SOON)
    assert received.received_at == SOON
    assert _slugs_holding(people.handler, received) == {"unit_in_progress"}


def test_another_units_handler_never_sees_the_case(city, people):
    case = bring_to(State.DISPATCHED, city, people)
    other = people.other_handler
    assert _slugs_holding(other, case) == set()
    assert sum(queues.counts(other, SOON).values()) == 0


def test_counts_are_one_query_and_equal_the_querysets(city, people, django_assert_num_queries):
    for state in (State.REPORTED, State.REPORTED, State.VERIFYING, State.FILED, State.DISPATCHED, State.SUSPENDED):
        bring_to(state, city, people)
    report_case(city, people, grid=city.other_grid)  # another district's report
    for persona in ("operator", "shift_lead", "dispatcher", "handler", "leader", "city_operator"):
        user = getattr(people, persona)
        queues.counts(user, SOON)  # the user's roles and scope area are loaded once per user
        with django_assert_num_queries(1):
            numbers = queues.counts(user, SOON)
        assert numbers == {q.slug: queues.queue_cases(user, q.slug, SOON).count() for q in queues.queues_for(user)}
    # (bring_to's payloads report a spare case for each move, so count the reported ones here)
    in_district = Case.objects.filter(state="reported", area=city.grid).count()
    assert in_district >= 2
    assert queues.counts(people.operator, SOON)["reported"] == in_district
    assert queues.counts(people.city_operator, SOON)["reported"] == in_district + 1
    assert queues.counts(people.dispatcher, SOON) == {"filed": 1, "requests": 0, "suspended": 1, "check_failed": 0}
    assert queues.counts(people.handler, SOON)["unit_new"] == 1


def test_an_operator_of_another_district_sees_nothing(city, people):
    for state in (State.REPORTED, State.VERIFIED, State.DISPOSED):
        bring_to(state, city, people)
    outsider = people.outside_operator
    assert set(queues.counts(outsider, SOON).values()) == {0}
    assert not queues.queue_cases(outsider, "reported", SOON).exists()
    assert queues.counts(people.operator, SOON)["reported"] >= 1


def test_a_queue_the_user_does_not_have_yields_nothing(city, people):
    bring_to(State.FILED, city, people)
    assert not queues.queue_cases(people.operator, "filed", SOON).exists()
    assert not queues.queue_cases(people.operator, "no-such-queue", SOON).exists()
    assert queues.queue_cases(people.dispatcher, "filed", SOON).count() == 1
    assert queues.counts(people.citizen) == {}


def test_deadline_state_reads_the_stored_fields(city, people):
    case = report_case(city, people)
    deadline, warn_at = case.stage_deadline_at, case.stage_warn_at
    assert warn_at is not None and warn_at < deadline
    assert queues.deadline_state(case, MONDAY_9AM) == "ok"
    assert queues.deadline_state(case, warn_at) == "warn"
    assert queues.deadline_state(case, deadline) == "overdue"
    case.stage_warned = True
    assert queues.deadline_state(case, MONDAY_9AM) == "warn"
    case.stage_overdue = True
    assert queues.deadline_state(case, MONDAY_9AM) == "overdue"
    # Moved deadlines (an extension) are read as stored, not recomputed.
    case.stage_warned = case.stage_overdue = False
    case.stage_deadline_at, case.stage_warn_at = deadline + 10 * HOUR, warn_at + 10 * HOUR
    assert queues.deadline_state(case, deadline + HOUR) == "ok"
    suspended = bring_to(State.SUSPENDED, city, people)
    assert suspended.stage_deadline_at is None and suspended.stage_remaining_seconds > 0
    assert queues.deadline_state(suspended, SOON) == "paused"
    closed = bring_to(State.REJECTED, city, people)
    assert queues.deadline_state(closed, SOON) is None


@pytest.mark.parametrize("state", ["ok", "warn", "overdue", "paused"])
def test_the_deadline_filter_agrees_with_deadline_state(state, city, people):
    cases = [report_case(city, people) for _ in range(2)]
    cases.append(bring_to(State.SUSPENDED, city, people))
    Case.objects.filter(pk=cases[1].pk).update(stage_warned=True)
    for now in (MONDAY_9AM, cases[0].stage_warn_at, cases[0].stage_deadline_at + HOUR):
        expected = {
            c.pk for c in Case.objects.filter(pk__in=[c.pk for c in cases]) if queues.deadline_state(c, now) == state
        }
        found = set(
            Case.objects.filter(pk__in=[c.pk for c in cases])
            .filter(queues.deadline_q(state, now))
            .values_list("pk", flat=True)
        )
        assert found == expected
