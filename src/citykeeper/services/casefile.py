"""The case file (案卷) as staff read it: the timeline with how long each stage took
against its limit, the photos before and after, the related cases, the routing
proposal and the actions the user may take now.

Reads only; the console's case page renders it. Every list is read with a fixed number
of queries, whatever the length of the case's history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from citykeeper.domain.errors import DomainError, IllegalMove, NotPermitted
from citykeeper.domain.workflow import TRANSITIONS, Action, Role, State, allowed_actions
from citykeeper.services import cases as case_service
from citykeeper.services import duplicates
from citykeeper.store.models import Area, Attachment, Case, CaseEvent, Component
from citykeeper.store.querysets import may

# Photos that show the problem (上报、核实、补充) and photos that show the result
# (处置反馈、自行处置、核查): shown side by side on the case page.
AFTER_KINDS = frozenset(
    {Action.DISPOSE.value, Action.SELF_DISPOSE.value, Action.CHECK_PASS.value, Action.CHECK_FAIL.value}
)

# Actions that belong to the citizen's follow link or the inspector's handset, not the console.
NOT_IN_CONSOLE = frozenset({Action.RATE, Action.REOPEN, Action.VERIFY, Action.CHECK_PASS, Action.CHECK_FAIL})

NEARBY_METRES = 150.0


@dataclass(frozen=True)
class StageSpan:
    """One finished stage: how long it took (working time on its calendar) against its limit."""

    stage: str
    used_seconds: int
    limit_seconds: int
    on_time: bool

    @property
    def share(self) -> float | None:
        return self.used_seconds / self.limit_seconds if self.limit_seconds else None


@dataclass
class TimelineEntry:
    event: CaseEvent
    finished: StageSpan | None  # the stage this event ended, if it ended one
    photos: list[Attachment] = field(default_factory=list)
    audio: list[Attachment] = field(default_factory=list)


@dataclass
class Photos:
    before: list[Attachment]
    after: list[Attachment]


def timeline(case: Case) -> list[TimelineEntry]:
    """Every event of the case in order, each with the stage it closed and its files (2 queries)."""
    events = list(CaseEvent.objects.filter(case_id=case.pk).select_related("actor").order_by("seq"))
    ids = {ref["id"] for e in events for ref in (e.attachments or []) if isinstance(ref, dict) and "id" in ref}
    files = {a.pk: a for a in Attachment.objects.filter(case_id=case.pk, pk__in=ids)} if ids else {}
    entries = []
    for event in events:
        outcome = event.outcome or None
        span = (
            StageSpan(
                outcome["stage"], int(outcome["used_seconds"]), int(outcome["limit_seconds"]), bool(outcome["on_time"])
            )
            if outcome and "used_seconds" in outcome
            else None
        )
        entry = TimelineEntry(event, span)
        for ref in event.attachments or []:
            attachment = files.get(ref.get("id")) if isinstance(ref, dict) else None
            if attachment is None:
                continue
            (entry.audio if attachment.content_type.startswith("audio/") else entry.photos).append(attachment)
        entries.append(entry)
    return entries


def photos(entries: list[TimelineEntry]) -> Photos:
    """The photos of the timeline split into before (the problem) and after (the result)."""
    before, after = [], []
    for entry in entries:
        (after if entry.event.kind in AFTER_KINDS else before).extend(entry.photos)
    return Photos(before, after)


def merged_reports(case: Case) -> list[Case]:
    """Reports merged into this case (已合并), oldest first."""
    return list(
        Case.objects.filter(merged_into=case)
        .only("number", "source", "reported_at", "description", "reporter_name")
        .order_by("reported_at")
    )


def possible_duplicates(case: Case, now: dt.datetime) -> list[duplicates.Suggestion]:
    """Open cases near this one that may be the same problem (only while merging is possible)."""
    if case.lon is None or case.lat is None or (State(case.state), Action.MERGE) not in TRANSITIONS:
        return []
    return duplicates.suggest(case.category, case.lon, case.lat, at=now, exclude=case)


def nearby(case: Case, *, metres: float = NEARBY_METRES, limit: int = 30):
    """(components, open cases) within ``metres`` of the case: what the map around it shows."""
    if case.lon is None or case.lat is None:
        return [], []
    dlat = metres / 111_320.0
    dlon = dlat / 0.8  # cos(37°): wide enough for every city of the mainland south of Harbin
    box = {
        "lon__gte": case.lon - dlon,
        "lon__lte": case.lon + dlon,
        "lat__gte": case.lat - dlat,
        "lat__lte": case.lat + dlat,
    }
    components = list(
        Component.objects.filter(**box)
        .select_related("category")
        .only("code", "name", "lon", "lat", "state", "category__minor_name")[:limit]
    )
    open_states = [s.value for s in State if s not in {State.CLOSED, State.REJECTED, State.VOIDED, State.MERGED}]
    cases = list(
        Case.objects.filter(state__in=open_states, **box)
        .exclude(pk=case.pk)
        .select_related("category")
        .only("number", "lon", "lat", "state", "category__minor_name")[:limit]
    )
    return components, cases


def grid_of(case: Case) -> Area | None:
    """The case's unit grid with its boundary (for the map)."""
    return Area.objects.filter(pk=case.area_id).only("code", "name", "geometry").first()


def possible_actions(case: Case, user, at: dt.datetime) -> list[Action]:
    """The console actions ``user`` may take on ``case`` now: the lifecycle table's rows for
    the case's state and the user's roles, in the user's acting scope, without the ones
    whose precondition already fails (a report that must be verified first, a dispatch
    already received). Missing input (a reason, a unit) does not hide an action: the form
    asks for it."""
    if not may(user, case, "act"):
        return []
    shown = []
    for action in allowed_actions(case.state, user.roles):
        if action in NOT_IN_CONSOLE:
            continue
        row = TRANSITIONS[(State(case.state), action)]
        if _precondition_fails(row, case, user, at):
            continue
        shown.append(action)
    return shown


def _precondition_fails(row, case, user, at) -> bool:
    data = case_service.MoveInput(at=at)
    for name in row.guards:
        try:
            case_service.GUARDS[name](case, user, data)
        except (NotPermitted, IllegalMove):
            return True
        except DomainError as exc:
            if exc.field == "action":  # about the move itself (never dispatched, already received)
                return True
            continue  # missing input: the form will ask for it
    return False


def acting_roles(user) -> list[Role]:
    return [r for r in Role if r in user.roles]
