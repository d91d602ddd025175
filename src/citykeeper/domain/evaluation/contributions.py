"""What one case contributes to every counter of ``counters.COUNTERS``, from its whole history.

``contributions`` reads a case's events in order and returns ``{key: value}`` with
``key = (counter, local day, subject kind, subject id, key problem)``. The service stores
what a case last contributed and applies only the difference when a new event is
written; the rebuild sums the same function over every case. Because the whole history
is read each time, a later event may change what earlier ones contributed: filing makes
the report valid (on the report's day), an approved return makes the dispatch
inaccurate, a late disposal moves the disposal's "due" from its deadline day to the
disposal day, a reopening takes back the closing. That is intended.

How the lead's definitions are read here, where they left a choice:

- **Subjects.** A post is credited to the event's actor, whatever role they acted in
  (a shift lead who accepts a report is counted as doing the operator's work). Where no
  person can be named (an overdue task nobody has acted on yet, an event without an
  actor) the subject id is ``0``; for a unit, ``0`` means the case was with no unit (an
  urge before dispatch). So for every counter the subject rows of one kind add up to
  the whole count. A public report credits no inspector (``reported``/``valid_report``
  are credited to the reporter only when the source is an inspector).
- **Inspector of a task.** An ended verify or check task is credited to the inspector
  who answered it (the event's actor). A task not yet answered but overdue is credited
  to ``CaseFacts.assignee_id``, the case's current assignee: only the case's running
  stage can be unended, and its task is the last one sent, so the assignee column names
  exactly that task's inspector.
- **Stage instances.** A stage instance starts with the report or with a move whose
  clock effect is ``start`` into a state with a stage (``workflow.TRANSITIONS``), and
  ends at the next event carrying an ``outcome``. A ``deadline_overdue`` event marks the
  running instance overdue on the deadline's day (the event is dated at the deadline).
  An approved extension that moves the deadline into the future clears the mark (the
  ticker marks it again if the new deadline passes); one that leaves it in the past
  keeps it, dated by the new deadline.
- **Which instances are due.** ``verify_sent_due``: accept-stage instances ended by
  ``send_verify``, plus the running one of a report that needs verification (source not
  first-hand) and sits overdue in ``reported``. ``verify_due``/``check_due``: instances
  ended by the inspector's answer (a merge that cancels the task counts for nobody), plus
  the running overdue one. ``check_sent_due``: instances of ``disposed`` ended by
  ``send_check`` plus the running overdue one (a check sent after a reopening ends the
  accept stage and is not counted here, nor in ``check_sent_on_time``).
  ``dispose_due``: disposal instances (dispatch or rework) ended by ``dispose`` plus the
  running overdue one; one ended by an approved return is the dispatcher's error and not
  due for the unit.
- **Closing.** A case counts as closed by its *standing* closing: the last ``close``
  event, provided the case is closed now (a reopening takes the closing back until the
  centre upholds it, or until a new closing replaces it). ``closed``, ``close_due``,
  ``closed_on_time``, ``close_stage_on_time`` and ``handling_seconds`` count filed cases
  only (a self-disposed case closes without being filed), so every ``…_on_time`` count
  is part of its ``…_due``. The unit of a closing is the unit of the case's last
  disposal. ``overdue_unclosed`` (and the rest of ``close_due``): a filed case not
  closed now whose last disposal instance (returned ones aside) went past its deadline:
  disposed late (dated by that disposal's deadline) or still running and overdue (dated
  by the overdue mark). The shift lead of a case not closed is ``0``.
- **Units.** The unit of an event is the unit of the latest dispatch, until an approved
  return takes the case away from it; a rework goes back to that unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import NamedTuple

from citykeeper.domain.evaluation.counters import COUNTERS, PUBLIC_SOURCES, Subject
from citykeeper.domain.workflow import STATE_STAGE, TRANSITIONS, Action, Clock, State

Key = tuple[str, date, str, int, int]  # (counter, local day, subject kind, subject id, key)
Entry = tuple[str, str, int, int]  # (counter, subject kind, subject id, key): a Key without its day
ByDay = dict[date, dict[Entry, int]]

# Reports from these sources need no verification (services.cases.FIRST_HAND_SOURCES).
FIRST_HAND_SOURCES = frozenset({"inspector", "leader", "camera"})
INSPECTOR_SOURCE = "inspector"
REPORT = "report"
OVERDUE = "deadline_overdue"  # services.deadlines.OVERDUE

# Kinds that never change any contribution: both the incremental path and the rebuild
# leave them out of the history they read (and the service skips recording them), so
# leaving them out is the same for both. A test keeps this list honest.
NEUTRAL_KINDS = frozenset(
    {
        "deadline_warning",
        Action.NOTE,
        Action.RATE,
        Action.RECEIVE,
        Action.REQUEST_RETURN,
        Action.DENY_RETURN,
        Action.REQUEST_EXTENSION,
        Action.DENY_EXTENSION,
        Action.REQUEST_SUSPENSION,
        Action.DENY_SUSPENSION,
        Action.RESUME,
    }
)


class CaseFacts(NamedTuple):
    """What the rules need from the case row (a named tuple: a year's rebuild makes
    millions, and a frozen dataclass costs several times as much to build)."""

    source: str
    grid_id: int
    key: int  # the category's id if it is a key problem (重点问题), else 0
    reporter_id: int | None
    assignee_id: int | None = None  # the inspector of the latest verify/check task


class EventFacts(NamedTuple):
    """One case event, as stored (``store.models.cases.CaseEvent``)."""

    kind: str
    at: datetime
    actor_id: int | None
    actor_role: str
    from_state: str
    to_state: str
    outcome: dict | None
    data: dict
    # The running stage's deadline after the event; the rules read it only from an approved
    # extension, and ``services.counters`` reads it from the database only for that kind.
    deadline_at: datetime | None = None


# ---------------------------------------------------------------- reading the history


@dataclass(slots=True)
class _Instance:
    """One run of a timed stage."""

    stage: str
    state: str  # the state it started in
    unit: int  # the unit whose disposal it is (0: none)
    end: EventFacts | None = None
    overdue_at: datetime | None = None  # the deadline it went past, while marked overdue


@dataclass(slots=True)
class _Step:
    """An event with what was true when it happened."""

    index: int
    event: EventFacts
    unit: int  # the case's unit at the event (a dispatch: its own unit)
    instance: _Instance | None  # the stage instance it ended


@dataclass(slots=True)
class _History:
    case: CaseFacts
    steps: list[_Step] = field(default_factory=list)
    instances: list[_Instance] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)


# (from state, action) of the moves that start a timed stage (clock ``start`` into a state
# with a stage), and the stage of each state: plain strings, looked up once per event.
_STARTING = frozenset(
    (state.value, action.value)
    for (state, action), row in TRANSITIONS.items()
    if row.clock == Clock.START and row.to in STATE_STAGE
)
_STAGE_OF = {state.value: stage for state, stage in STATE_STAGE.items()}
_DISPATCH, _APPROVE_RETURN = Action.DISPATCH.value, Action.APPROVE_RETURN.value
_APPROVE_EXTENSION = Action.APPROVE_EXTENSION.value


def _read(case: CaseFacts, events: Sequence[EventFacts], unit_ids: Mapping[str, int]) -> _History:
    history = _History(case)
    steps, kinds = history.steps, history.kinds
    unit = 0
    current: _Instance | None = None
    for event in events:
        kind = event.kind
        kinds.add(kind)
        if kind == _DISPATCH:
            unit = unit_ids.get(event.data.get("unit", ""), 0)
        ended = None
        if event.outcome is not None and current is not None:
            current.end, ended, current = event, current, None
        steps.append(_Step(len(steps), event, unit, ended))
        if kind == _APPROVE_RETURN:
            unit = 0
        elif kind == OVERDUE and current is not None:
            current.overdue_at = event.at
        elif kind == _APPROVE_EXTENSION and current is not None and current.overdue_at is not None:
            still_past = event.deadline_at is not None and event.deadline_at <= event.at
            current.overdue_at = event.deadline_at if still_past else None
        if kind == REPORT or (event.from_state, kind) in _STARTING:  # a move that starts a timed stage
            current = _Instance(_STAGE_OF[event.to_state], event.to_state, unit)
            history.instances.append(current)
    return history


# ---------------------------------------------------------------- who is credited


def _reporter(h: _History) -> int | None:
    """The reporting inspector, or no one for a report from any other source."""
    return (h.case.reporter_id or 0) if h.case.source == INSPECTOR_SOURCE else None


# ---------------------------------------------------------------- counts dated by an event

When = Callable[[_History, _Step], bool]


def _on_time(h: _History, s: _Step) -> bool:
    return bool(s.event.outcome and s.event.outcome.get("on_time"))


def _from(*states: str) -> When:
    return lambda h, s: s.event.from_state in states


def _both(*conditions: When) -> When:
    return lambda h, s: all(c(h, s) for c in conditions)


def _public(h: _History, s: _Step) -> bool:
    return h.case.source in PUBLIC_SOURCES


def _valid(h: _History, s: _Step) -> bool:
    return bool(h.kinds & {Action.FILE, Action.SELF_DISPOSE})


def _not_voided_later(h: _History, s: _Step) -> bool:
    return not any(t.event.kind == Action.VOID for t in h.steps[s.index + 1 :])


def _not_returned(h: _History, s: _Step) -> bool:
    """No approved return before the next dispatch."""
    for later in h.steps[s.index + 1 :]:
        if later.event.kind == Action.DISPATCH:
            return True
        if later.event.kind == Action.APPROVE_RETURN:
            return False
    return True


def _always(h: _History, s: _Step) -> bool:
    return True


# kind → (counter, condition). The subjects are the counter's (``COUNTERS``): the grid,
# the case's unit at the event, and the actor for a post (the reporter for ``reported``
# and ``valid_report``).
EVENT_COUNTS: dict[str, tuple[tuple[str, When], ...]] = {
    REPORT: (("reported", _always), ("reported_public", _public), ("valid_report", _valid)),
    Action.ACCEPT: (("accepted", _always),),
    Action.SEND_VERIFY: (("verify_sent_on_time", _on_time),),
    Action.VERIFY: (("verified_on_time", _on_time),),
    Action.SEND_CHECK: (("check_sent_on_time", _both(_from(State.DISPOSED), _on_time)),),
    Action.CHECK_PASS: (("checked_on_time", _on_time),),
    Action.CHECK_FAIL: (("checked_on_time", _on_time),),
    Action.SELF_DISPOSE: (("self_disposed", _always),),
    Action.FILE: (
        ("filed", _always),
        ("filed_on_time", _on_time),
        ("filed_accurately", _not_voided_later),
        ("missed", _public),
    ),
    Action.VOID: (("voided", _always),),
    Action.DISPATCH: (
        ("dispatched", _always),
        ("dispatched_on_time", _on_time),
        ("dispatched_accurately", _not_returned),
    ),
    Action.DISPOSE: (("disposed", _always), ("disposed_on_time", _on_time)),
    Action.REWORK: (("rework", _always),),
    Action.APPROVE_RETURN: (("returned", _always),),
    Action.APPROVE_EXTENSION: (("extended", _always),),
    Action.APPROVE_SUSPENSION: (("suspended", _always),),
    Action.URGE: (("urged", _always),),
    Action.REOPEN: (("reopened", _always),),
}
_REPORTER_COUNTERS = frozenset({"reported", "valid_report"})


# ---------------------------------------------------------------- counts of stage instances


@dataclass(frozen=True)
class StageRule:
    """Which instances of a stage (by the state it started in) are due, and for what."""

    due: tuple[str, ...]  # counters of an instance ended by one of ``ended_by``
    ended_by: frozenset[str]
    overdue: tuple[str, ...]  # counters of the running instance marked overdue
    overdue_counts: Callable[[CaseFacts], bool] = lambda case: True


def _needs_verification(case: CaseFacts) -> bool:
    return case.source not in FIRST_HAND_SOURCES


STAGE_RULES: dict[str, StageRule] = {
    State.REPORTED: StageRule(
        ("verify_sent_due",), frozenset({Action.SEND_VERIFY}), ("verify_sent_due",), _needs_verification
    ),
    State.VERIFIED: StageRule(("verify_sent_due",), frozenset({Action.SEND_VERIFY}), ()),
    State.VERIFYING: StageRule(("verify_due",), frozenset({Action.VERIFY}), ("verify_due",)),
    State.DISPOSED: StageRule(("check_sent_due",), frozenset({Action.SEND_CHECK}), ("check_sent_due",)),
    State.CHECKING: StageRule(("check_due",), frozenset({Action.CHECK_PASS, Action.CHECK_FAIL}), ("check_due",)),
    State.DISPATCHED: StageRule(("dispose_due",), frozenset({Action.DISPOSE}), ("dispose_due", "overdue_undisposed")),
}


# ---------------------------------------------------------------- the whole case


# counter → (whether it credits the grid, whether the unit, the posts it credits): plain
# strings, since an enum member hashes through a Python call and this is looked up tens of
# millions of times in a rebuild.
_GRID, _UNIT = Subject.GRID.value, Subject.UNIT.value
_INSPECTOR, _SHIFT_LEAD = Subject.INSPECTOR.value, Subject.SHIFT_LEAD.value
_CREDITED = {
    c.name: (
        Subject.GRID in c.subjects,
        Subject.UNIT in c.subjects,
        tuple(s.value for s in c.subjects if s not in (Subject.GRID, Subject.UNIT)),
    )
    for c in COUNTERS
}


class _Sink:
    """The entries of one case, held per local day: the rebuild sums and stores them a day
    at a time, so they are kept in that shape from the start."""

    __slots__ = ("_held", "by_day", "grid_id", "key", "tz")

    def __init__(self, case: CaseFacts, tz: tzinfo):
        self.grid_id, self.key, self.tz = case.grid_id, case.key, tz
        self.by_day: ByDay = {}
        self._held: dict[datetime, dict[Entry, int]] = {}  # an instant's day; a case's events share few

    def add(
        self,
        counter: str,
        at: datetime,
        unit: int,
        person: int | None,
        *,
        value: int = 1,
        named: Mapping[str, int] | None = None,
    ) -> None:
        """Count ``value`` for ``counter`` on ``at``'s local day, for the case's grid, for
        ``unit`` and for the people: ``named`` maps a post to its person, ``person`` is
        every other post's (None: no one)."""
        held = self._held.get(at)
        if held is None:
            day = at.astimezone(self.tz).date()
            held = self.by_day.get(day)
            if held is None:
                held = self.by_day[day] = {}
            self._held[at] = held
        key = self.key
        grid, with_unit, posts = _CREDITED[counter]
        if grid and self.grid_id is not None:
            entry = (counter, _GRID, self.grid_id, key)
            held[entry] = held.get(entry, 0) + value
        if with_unit and unit is not None:
            entry = (counter, _UNIT, unit, key)
            held[entry] = held.get(entry, 0) + value
        for kind in posts:
            subject_id = named[kind] if named is not None and kind in named else person
            if subject_id is not None:
                entry = (counter, kind, subject_id, key)
                held[entry] = held.get(entry, 0) + value


def _event_counts(h: _History, sink: _Sink) -> None:
    add, reporter = sink.add, _reporter(h)
    for step in h.steps:
        event = step.event
        for counter, when in EVENT_COUNTS.get(event.kind, ()):
            if when is _always or when(h, step):
                person = reporter if counter in _REPORTER_COUNTERS else event.actor_id or 0
                add(counter, event.at, step.unit, person)


def _stage_counts(h: _History, sink: _Sink) -> None:
    for instance in h.instances:
        rule = STAGE_RULES.get(instance.state)
        if rule is None:
            continue
        end = instance.end
        if end is not None:
            if end.kind in rule.ended_by:
                for counter in rule.due:
                    sink.add(counter, end.at, instance.unit, end.actor_id or 0)
        elif instance.overdue_at is not None and rule.overdue_counts(h.case):
            inspector = {_INSPECTOR: h.case.assignee_id or 0}
            for counter in rule.overdue:
                sink.add(counter, instance.overdue_at, instance.unit, 0, named=inspector)


def _closing_counts(h: _History, sink: _Sink) -> None:
    if Action.FILE not in h.kinds or not h.steps:
        return
    disposals = [
        i
        for i in h.instances
        if i.state == State.DISPATCHED and not (i.end is not None and i.end.kind == Action.APPROVE_RETURN)
    ]
    last = disposals[-1] if disposals else None
    closes = [s for s in h.steps if s.event.kind == Action.CLOSE]
    if h.steps[-1].event.to_state == State.CLOSED and closes:
        close = closes[-1]
        unit = last.unit if last is not None else close.unit
        lead = {_SHIFT_LEAD: close.event.actor_id or 0}  # no other post is credited
        at = close.event.at
        sink.add("closed", at, unit, None, named=lead)
        sink.add("close_due", at, unit, None, named=lead)
        if last is not None and last.end is not None and (last.end.outcome or {}).get("on_time"):
            sink.add("closed_on_time", at, unit, None, named=lead)
        if _on_time(h, close):
            sink.add("close_stage_on_time", at, unit, None, named=lead)
        reported_at = h.steps[0].event.at
        seconds = int((at - reported_at).total_seconds())
        sink.add("handling_seconds", at, unit, None, value=seconds, named=lead)
        return
    if last is None:
        return
    if last.end is None:
        past = last.overdue_at
    elif last.end.outcome and not last.end.outcome.get("on_time") and last.end.outcome.get("deadline_at"):
        past = datetime.fromisoformat(last.end.outcome["deadline_at"])
    else:
        past = None
    if past is not None:
        nobody = {_SHIFT_LEAD: 0}  # the shift lead of a case not closed
        sink.add("overdue_unclosed", past, last.unit, None, named=nobody)
        sink.add("close_due", past, last.unit, None, named=nobody)


RULES = (_event_counts, _stage_counts, _closing_counts)


def contributions_by_day(
    case: CaseFacts, events: Sequence[EventFacts], *, tz: tzinfo, unit_ids: Mapping[str, int]
) -> ByDay:
    """What ``case`` contributes now, per local day: ``{day: {(counter, subject kind,
    subject id, key): value}}``, from its events in seq order (``NEUTRAL_KINDS`` may be left
    out: they change nothing). Zero entries, and days left without entries, are dropped."""
    history = _read(case, [e for e in events if e.kind not in NEUTRAL_KINDS], unit_ids)
    sink = _Sink(case, tz)
    for rule in RULES:
        rule(history, sink)
    by_day = sink.by_day
    for day, held in list(by_day.items()):
        if 0 in held.values():  # rare (a case closed in the second it was reported)
            kept = {entry: value for entry, value in held.items() if value}
            if kept:
                by_day[day] = kept
            else:
                del by_day[day]
    return by_day


def contributions(
    case: CaseFacts, events: Sequence[EventFacts], *, tz: tzinfo, unit_ids: Mapping[str, int]
) -> dict[Key, int]:
    """``contributions_by_day`` as one mapping ``{(counter, day, subject kind, subject id,
    key): value}``."""
    return {
        (counter, day, kind, sid, key): value
        for day, held in contributions_by_day(case, events, tz=tz, unit_ids=unit_ids).items()
        for (counter, kind, sid, key), value in held.items()
    }
