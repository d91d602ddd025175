"""How responsible units stand (单位负荷与按时率): for the dispatcher's unit picker and
the unit's own month.

Which unit an event belongs to
------------------------------
Cases now at a unit are found through ``Case.unit``: that is where they are *now*.

Past events (disposals, returns, extensions …) are *not* found through ``Case.unit``:
the case's unit is what it is today, not what it was when the event happened. A unit
that disposed a case, got it back for rework and then had a return approved leaves the
case with no unit or, after re-dispatch, with another unit; counting its disposal for
the case's current unit would credit (or blame) the wrong one. The dispose event does
not name the unit either (only the acting handler, whose own unit may change later).

What does name the unit is the *dispatch* event: every dispatch records ``data["unit"]``
(the unit's code), and the case stays with that unit until the next dispatch (receive,
dispose, requests, approvals and rework all keep it; an approved return takes it away
and only a new dispatch gives it another). So an event belongs to the unit named by the
latest dispatch event of the same case at or before it. That is one correlated
subquery on the ``(case, seq)`` unique index per event of the month, inside a single
aggregate query whatever the number of units.

The clock outcome of each finished stage is on the event that finished it
(``CaseEvent.outcome``, see ``domain.clock.StageOutcome.as_dict``): a disposal is a
``dispose`` event whose outcome has ``stage == "dispose"``, on time when
``outcome["on_time"]`` is true; ``used_seconds`` is the working time it took on the
stage clock's calendar (extensions count in the limit, suspension pauses are not used).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, FloatField, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from citykeeper.domain.workflow import Action, Stage, State
from citykeeper.services.queues import deadline_q
from citykeeper.store.models import Case, CaseEvent, Unit

# A case is "at the unit" in these states: the unit has it, or asked the centre about it.
AT_UNIT_STATES = (
    State.DISPATCHED,
    State.RETURN_REQUESTED,
    State.EXTENSION_REQUESTED,
    State.SUSPENSION_REQUESTED,
    State.SUSPENDED,
)


@dataclass(frozen=True)
class UnitStanding:
    """A unit's load now and its disposals this month."""

    open_count: int = 0  # cases now at the unit (AT_UNIT_STATES)
    overdue_count: int = 0  # of those, overdue by the stored clock
    disposed_count: int = 0  # disposal stages finished this calendar month (local time)
    on_time_count: int = 0  # of those, within the deadline

    @property
    def on_time_rate(self) -> float | None:
        """On-time disposals / disposals this month (0–1), None when nothing was disposed."""
        return self.on_time_count / self.disposed_count if self.disposed_count else None


@dataclass(frozen=True)
class MonthStats:
    """One unit's calendar month (local time), and its load now."""

    unit_id: int
    year: int
    month: int
    dispatched: int  # dispatches to the unit (re-dispatches included, reworks not)
    received: int  # 签收
    disposed: int  # 处置反馈: disposal stages finished
    on_time: int
    returns_requested: int
    returns_approved: int
    extensions_requested: int
    extensions_approved: int
    suspensions_requested: int
    suspensions_approved: int
    reworks: int
    open_now: int
    overdue_now: int
    average_disposal_seconds: float | None  # working time per disposal, None without any

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.disposed if self.disposed else None


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of the local calendar month and of the next one."""
    start = timezone.make_aware(dt.datetime(year, month, 1))
    following = timezone.make_aware(dt.datetime(year + month // 12, month % 12 + 1, 1))
    return start, following


def _unit_at_event():
    """The unit code named by the latest dispatch of the event's case at or before it."""
    latest_dispatch = CaseEvent.objects.filter(
        case_id=OuterRef("case_id"), kind=Action.DISPATCH.value, seq__lte=OuterRef("seq")
    ).order_by("-seq")
    return Subquery(latest_dispatch.annotate(unit_code=KeyTextTransform("unit", "data")).values("unit_code")[:1])


def _events_of_units(codes: list[str], start: dt.datetime, end: dt.datetime, kinds: list[str]):
    return (
        CaseEvent.objects.filter(kind__in=kinds, at__gte=start, at__lt=end)
        .annotate(unit_code=_unit_at_event())
        .filter(unit_code__in=codes)
    )


_DISPOSAL = Q(kind=Action.DISPOSE.value, outcome__stage=Stage.DISPOSE.value)


def _load(unit_ids: list[int], now: dt.datetime) -> dict[int, tuple[int, int]]:
    rows = (
        Case.objects.filter(unit_id__in=unit_ids, state__in=[s.value for s in AT_UNIT_STATES])
        .values("unit_id")
        .annotate(open=Count("pk"), overdue=Count("pk", filter=deadline_q("overdue", now)))
        .order_by()
    )
    return {row["unit_id"]: (row["open"], row["overdue"]) for row in rows}


def unit_standing(unit_ids: list[int], now: dt.datetime) -> dict[int, UnitStanding]:
    """{unit id: its standing} for each of ``unit_ids`` (unknown ids get zeros), in three
    queries whatever their number: the units' codes, the cases at them, this month's
    disposals by unit."""
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    codes = dict(Unit.objects.filter(pk__in=ids).values_list("code", "pk"))
    load = _load(ids, now)
    local_now = timezone.localtime(now)
    start, end = month_bounds(local_now.year, local_now.month)
    disposals = {}
    if codes:
        rows = (
            _events_of_units(list(codes), start, end, [Action.DISPOSE.value])
            .filter(_DISPOSAL)
            .values("unit_code")
            .annotate(disposed=Count("pk"), on_time=Count("pk", filter=Q(outcome__on_time=True)))
            .order_by()
        )
        disposals = {codes[row["unit_code"]]: (row["disposed"], row["on_time"]) for row in rows}
    out = {}
    for pk in ids:
        open_count, overdue_count = load.get(pk, (0, 0))
        disposed, on_time = disposals.get(pk, (0, 0))
        out[pk] = UnitStanding(open_count, overdue_count, disposed, on_time)
    return out


_MONTH_KINDS = {
    "dispatched": Action.DISPATCH,
    "received": Action.RECEIVE,
    "returns_requested": Action.REQUEST_RETURN,
    "returns_approved": Action.APPROVE_RETURN,
    "extensions_requested": Action.REQUEST_EXTENSION,
    "extensions_approved": Action.APPROVE_EXTENSION,
    "suspensions_requested": Action.REQUEST_SUSPENSION,
    "suspensions_approved": Action.APPROVE_SUSPENSION,
    "reworks": Action.REWORK,
}


def month_stats(unit_id: int, year: int, month: int, now: dt.datetime) -> MonthStats:
    """What happened at the unit in one local calendar month, and its load ``now``, in
    three queries."""
    code = Unit.objects.filter(pk=unit_id).values_list("code", flat=True).first()
    start, end = month_bounds(year, month)
    counts: dict = {}
    if code is not None:
        kinds = [a.value for a in _MONTH_KINDS.values()] + [Action.DISPOSE.value]
        aggregates = {name: Count("pk", filter=Q(kind=action.value)) for name, action in _MONTH_KINDS.items()}
        aggregates["disposed"] = Count("pk", filter=_DISPOSAL)
        aggregates["on_time"] = Count("pk", filter=_DISPOSAL & Q(outcome__on_time=True))
        aggregates["average"] = Avg(Cast(KeyTextTransform("used_seconds", "outcome"), FloatField()), filter=_DISPOSAL)
        counts = _events_of_units([code], start, end, kinds).aggregate(**aggregates)
    open_now, overdue_now = _load([unit_id], now).get(unit_id, (0, 0))
    return MonthStats(
        unit_id=unit_id,
        year=year,
        month=month,
        **{name: counts.get(name) or 0 for name in _MONTH_KINDS},
        disposed=counts.get("disposed") or 0,
        on_time=counts.get("on_time") or 0,
        open_now=open_now,
        overdue_now=overdue_now,
        average_disposal_seconds=counts.get("average"),
    )


def daily_counts(unit_code: str, year: int, month: int, now: dt.datetime) -> list[dict]:
    """Dispatches to the unit and disposals by it, per local day of the month (up to today
    in the current month), attributed as ``month_stats`` attributes them, in one query."""
    start, end = month_bounds(year, month)
    last_day = calendar.monthrange(year, month)[1]
    today = timezone.localtime(now)
    if (year, month) == (today.year, today.month):
        last_day = today.day
    disposal = Q(kind=Action.DISPOSE.value, outcome__stage=Stage.DISPOSE.value)
    rows = (
        _events_of_units([unit_code], start, end, [Action.DISPATCH.value, Action.DISPOSE.value])
        .annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(dispatched=Count("pk", filter=Q(kind=Action.DISPATCH.value)), disposed=Count("pk", filter=disposal))
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    days = []
    for number in range(1, last_day + 1):
        day = dt.date(year, month, number)
        row = by_day.get(day, {})
        days.append({"day": day, "dispatched": row.get("dispatched", 0), "disposed": row.get("disposed", 0)})
    return days
