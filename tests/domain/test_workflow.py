"""The lifecycle table is complete and coherent."""

from __future__ import annotations

import pytest

from citykeeper.domain.errors import IllegalMove, NotPermitted
from citykeeper.domain.workflow import (
    OPEN_STATES,
    STATE_STAGE,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    Clock,
    Role,
    State,
    allowed_actions,
    check_role,
    transition_for,
)


def test_every_open_state_has_a_way_forward():
    for state in OPEN_STATES:
        moves = {row.to for (s, _), row in TRANSITIONS.items() if s == state and row.to != state}
        assert moves, f"{state} is a dead end"


def test_terminal_states_allow_only_notes_and_a_closed_case_also_the_reporters_rating_and_reopening():
    for state in TERMINAL_STATES - {State.CLOSED}:
        assert set(allowed_actions(state, set(Role))) == {Action.NOTE}
    assert set(allowed_actions(State.CLOSED, set(Role))) == {Action.NOTE, Action.RATE, Action.REOPEN}
    assert set(allowed_actions(State.CLOSED, {Role.CITIZEN})) == {Action.RATE, Action.REOPEN}


def test_every_open_state_carries_a_stage_clock():
    assert set(STATE_STAGE) == set(OPEN_STATES)


def test_moves_into_a_terminal_state_stop_the_clock():
    for row in TRANSITIONS.values():
        if row.to in TERMINAL_STATES and row.state not in TERMINAL_STATES:
            assert row.clock == Clock.STOP, row


def test_every_state_is_reachable_from_reported():
    seen, frontier = {State.REPORTED}, [State.REPORTED]
    while frontier:
        state = frontier.pop()
        for (s, _), row in TRANSITIONS.items():
            if s == state and row.to not in seen:
                seen.add(row.to)
                frontier.append(row.to)
    assert seen == set(State)


def test_citizens_act_only_on_closed_cases_they_rate_or_say_are_not_fixed():
    citizen_rows = {(row.state, row.action) for row in TRANSITIONS.values() if Role.CITIZEN in row.roles}
    assert citizen_rows == {(State.CLOSED, Action.RATE), (State.CLOSED, Action.REOPEN)}


def test_an_illegal_move_names_the_possible_ones():
    with pytest.raises(IllegalMove) as err:
        transition_for(State.CLOSED, Action.DISPATCH)
    assert "possible: rate, reopen, note" in err.value.message


def test_a_role_outside_the_row_is_refused_with_the_allowed_roles():
    row = transition_for(State.FILED, Action.DISPATCH)
    with pytest.raises(NotPermitted) as err:
        check_role(row, {Role.OPERATOR})
    assert "dispatcher" in err.value.message
    check_role(row, {Role.DISPATCHER})  # no exception for the right role


def test_the_lifecycle_document_matches_the_table():
    from pathlib import Path

    from citykeeper.domain.workflow import as_markdown

    doc = (Path(__file__).parents[2] / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert doc.split("<!-- generated -->\n", 1)[1] == as_markdown()
