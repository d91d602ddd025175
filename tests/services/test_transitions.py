"""Every row of the lifecycle table, taken by a permitted role and refused to others,
and every move the table does not have refused for every state."""

from __future__ import annotations

import datetime as dt

import pytest

from citykeeper.domain.errors import DomainError, IllegalMove, NotPermitted
from citykeeper.domain.workflow import TRANSITIONS, Action, Role, State
from citykeeper.services import cases as svc
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent
from tests.factories import MONDAY_9AM, report_case

MIN = dt.timedelta(minutes=1)


def persona_for(role: Role, people):
    return {
        Role.INSPECTOR: people.inspector,
        Role.OPERATOR: people.operator,
        Role.SHIFT_LEAD: people.shift_lead,
        Role.DISPATCHER: people.dispatcher,
        Role.UNIT_HANDLER: people.handler,
        Role.LEADER: people.leader,
        Role.CITIZEN: people.citizen,
    }.get(role)


def payload(action: Action, city, people, case) -> MoveInput:
    reason = "理由：现场情况说明"
    return {
        Action.SEND_VERIFY: MoveInput(assignee=people.inspector),
        Action.SEND_CHECK: MoveInput(assignee=people.inspector),
        Action.VERIFY: MoveInput(found=True),
        Action.FILE: MoveInput(condition=city.condition),
        Action.DISPATCH: MoveInput(unit=city.unit),
        Action.REQUEST_EXTENSION: MoveInput(reason=reason, extension_value=1, extension_unit="work_days"),
        Action.MERGE: MoveInput(target=report_case(city, people, at=case.reported_at)),
        Action.RATE: MoveInput(rating=4),
    }.get(action, MoveInput(reason=reason))


# How to bring a fresh case into each state: (source, [(action, role), ...]).
PATHS: dict[State, tuple[str, list[tuple[Action, Role]]]] = {
    State.REPORTED: ("inspector", []),
    State.VERIFYING: ("citizen", [(Action.SEND_VERIFY, Role.OPERATOR)]),
    State.VERIFIED: ("citizen", [(Action.SEND_VERIFY, Role.OPERATOR), (Action.VERIFY, Role.INSPECTOR)]),
    State.SELF_DISPOSED: ("inspector", [(Action.SELF_DISPOSE, Role.INSPECTOR)]),
    State.ACCEPTED: ("inspector", [(Action.ACCEPT, Role.OPERATOR)]),
    State.REJECTED: ("inspector", [(Action.REJECT, Role.OPERATOR)]),
    State.MERGED: ("inspector", [(Action.MERGE, Role.OPERATOR)]),
}
_ACCEPTED = PATHS[State.ACCEPTED][1]
_VERIFIED = PATHS[State.VERIFIED][1]
_FILED = [*_ACCEPTED, (Action.FILE, Role.SHIFT_LEAD)]
_DISPATCHED = [*_FILED, (Action.DISPATCH, Role.DISPATCHER)]
_DISPOSED = [*_DISPATCHED, (Action.DISPOSE, Role.UNIT_HANDLER)]
_CHECKING = [*_DISPOSED, (Action.SEND_CHECK, Role.OPERATOR)]
_CHECKED = [*_CHECKING, (Action.CHECK_PASS, Role.INSPECTOR)]
PATHS.update(
    {
        State.FILED: ("inspector", _FILED),
        State.VOIDED: ("inspector", [*_ACCEPTED, (Action.VOID, Role.SHIFT_LEAD)]),
        State.DISPATCHED: ("inspector", _DISPATCHED),
        State.RETURN_REQUESTED: ("inspector", [*_DISPATCHED, (Action.REQUEST_RETURN, Role.UNIT_HANDLER)]),
        State.EXTENSION_REQUESTED: ("inspector", [*_DISPATCHED, (Action.REQUEST_EXTENSION, Role.UNIT_HANDLER)]),
        State.SUSPENSION_REQUESTED: ("inspector", [*_DISPATCHED, (Action.REQUEST_SUSPENSION, Role.UNIT_HANDLER)]),
        State.SUSPENDED: (
            "inspector",
            [
                *_DISPATCHED,
                (Action.REQUEST_SUSPENSION, Role.UNIT_HANDLER),
                (Action.APPROVE_SUSPENSION, Role.DISPATCHER),
            ],
        ),
        State.DISPOSED: ("inspector", _DISPOSED),
        State.CHECKING: ("inspector", _CHECKING),
        State.CHECK_FAILED: ("inspector", [*_CHECKING, (Action.CHECK_FAIL, Role.INSPECTOR)]),
        State.CHECKED: ("inspector", _CHECKED),
        # A citizen's report, so that its reporter may rate it and say it is not fixed.
        State.CLOSED: ("citizen", [*_VERIFIED, *_CHECKED, (Action.CLOSE, Role.SHIFT_LEAD)]),
        State.REOPENED: (
            "citizen",
            [*_VERIFIED, *_CHECKED, (Action.CLOSE, Role.SHIFT_LEAD), (Action.REOPEN, Role.CITIZEN)],
        ),
    }
)


def bring_to(state: State, city, people) -> Case:
    source, steps = PATHS[state]
    case = report_case(city, people, source=source)
    at = MONDAY_9AM
    for action, role in steps:
        at += MIN
        case = svc.act(
            case.number,
            action,
            actor=persona_for(role, people),
            version=case.version,
            at=at,
            data=payload(action, city, people, case),
        )
    assert case.state == state
    return case


def test_every_state_has_a_path_in_this_test():
    assert set(PATHS) == set(State)


ROWS = sorted(TRANSITIONS.values(), key=lambda r: (r.state.value, r.action.value))


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.state.value}-{r.action.value}")
def test_each_row_is_taken_by_a_permitted_role_and_lands_where_the_table_says(row, city, people):
    case = bring_to(row.state, city, people)
    role = next(r for r in Role if r in row.roles and persona_for(r, people) is not None)
    at = MONDAY_9AM + 30 * MIN
    moved = svc.act(
        case.number,
        row.action,
        actor=persona_for(role, people),
        version=case.version,
        at=at,
        data=payload(row.action, city, people, case),
    )
    assert moved.state == row.to
    last = moved.events.order_by("-seq").first()
    assert (last.kind, last.from_state, last.to_state, last.actor_role) == (
        row.action.value,
        row.state.value,
        row.to.value,
        role.value,
    )


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.state.value}-{r.action.value}")
def test_each_row_is_refused_to_roles_outside_it_and_writes_nothing(row, city, people):
    case = bring_to(row.state, city, people)
    outsider = next(
        (
            persona_for(r, people)
            for r in (Role.INSPECTOR, Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER, Role.LEADER)
            if r not in row.roles
        ),
        people.citizen,
    )
    data = payload(row.action, city, people, case)
    before = (Case.objects.get(pk=case.pk).version, CaseEvent.objects.count())
    with pytest.raises(NotPermitted):
        svc.act(case.number, row.action, actor=outsider, version=case.version, at=MONDAY_9AM + 30 * MIN, data=data)
    assert (Case.objects.get(pk=case.pk).version, CaseEvent.objects.count()) == before


@pytest.mark.parametrize("state", sorted(State), ids=str)
def test_moves_the_table_lacks_are_refused_in_every_state(state, city, people):
    case = bring_to(state, city, people)
    missing = [a for a in Action if (state, a) not in TRANSITIONS]
    before = CaseEvent.objects.count()
    for action in missing:
        with pytest.raises(IllegalMove):
            svc.act(
                case.number,
                action,
                actor=people.shift_lead,
                version=case.version,
                at=MONDAY_9AM + 30 * MIN,
                data=MoveInput(reason="x"),
            )
    assert CaseEvent.objects.count() == before
    assert Case.objects.get(pk=case.pk).state == state


def test_a_citizen_report_cannot_be_accepted_before_an_inspector_verifies_it(city, people):
    case = report_case(city, people, source="citizen")
    with pytest.raises(NotPermitted, match="verified"):
        svc.accept(case.number, actor=people.operator, version=case.version, at=MONDAY_9AM + MIN)


def test_only_the_inspector_sent_can_answer_the_verify_task(city, people):
    case = bring_to(State.VERIFYING, city, people)
    with pytest.raises(NotPermitted, match="task was sent"):
        svc.verify(
            case.number,
            actor=people.other_inspector,
            version=case.version,
            at=MONDAY_9AM + 5 * MIN,
            data=MoveInput(found=True),
        )


def test_a_verification_that_found_nothing_cannot_be_accepted(city, people):
    case = report_case(city, people, source="citizen")
    case = svc.send_verify(
        case.number,
        actor=people.operator,
        version=case.version,
        at=MONDAY_9AM + MIN,
        data=MoveInput(assignee=people.inspector),
    )
    case = svc.verify(
        case.number, actor=people.inspector, version=case.version, at=MONDAY_9AM + 9 * MIN, data=MoveInput(found=False)
    )
    with pytest.raises(NotPermitted, match="did not find"):
        svc.accept(case.number, actor=people.operator, version=case.version, at=MONDAY_9AM + 10 * MIN)
    rejected = svc.reject(
        case.number,
        actor=people.operator,
        version=case.version,
        at=MONDAY_9AM + 10 * MIN,
        data=MoveInput(reason="现场未发现问题"),
    )
    assert rejected.state == State.REJECTED


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        (Action.FILE, MoveInput(), "condition"),
        (Action.REJECT, MoveInput(), "reason"),
        (Action.SEND_VERIFY, MoveInput(), "assignee"),
    ],
)
def test_a_move_without_its_required_input_names_the_field_and_writes_nothing(action, data, field, city, people):
    state = State.ACCEPTED if action == Action.FILE else State.REPORTED
    case = bring_to(state, city, people)
    before = CaseEvent.objects.count()
    actor = people.shift_lead if action == Action.FILE else people.operator
    with pytest.raises(DomainError) as err:
        svc.act(case.number, action, actor=actor, version=case.version, at=MONDAY_9AM + 30 * MIN, data=data)
    assert err.value.field == field
    assert CaseEvent.objects.count() == before


def test_a_condition_of_another_category_is_refused_at_filing(city, people):
    from citykeeper.store.models import Category, FilingCondition

    other = Category.objects.create(
        standard="GB/T 47678.5-2026",
        kind="event",
        major_code="06",
        major_name="市容环境类",
        minor_code="06001",
        minor_name="暴露垃圾",
    )
    foreign = FilingCondition.objects.create(category=other, seq=1, text="x", limit_value=1, limit_unit="work_days")
    case = bring_to(State.ACCEPTED, city, people)
    with pytest.raises(DomainError) as err:
        svc.file(
            case.number,
            actor=people.shift_lead,
            version=case.version,
            at=MONDAY_9AM + 30 * MIN,
            data=MoveInput(condition=foreign),
        )
    assert err.value.field == "condition"


@pytest.mark.parametrize(
    ("source", "persona"), [("leader", "citizen"), ("inspector", "operator"), ("hotline", "citizen")]
)
def test_a_report_may_not_claim_a_source_its_author_does_not_speak_for(source, persona, city, people):
    before = Case.objects.count()
    with pytest.raises(NotPermitted) as err:
        report_case(city, people, source=source, actor=getattr(people, persona))
    assert err.value.field == "source"
    assert Case.objects.count() == before
