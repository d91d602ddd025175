"""Work queues of the staff console (工作队列), one table.

Each queue is a row of ``QUEUES``: a slug, a Chinese label, the roles that see it and
which cases it holds (states plus, for a few, one named extra condition). The states
come from the lifecycle table (``domain.workflow``): a case waits in a queue of the
role that may take its next move.

==================  ======================  ==============================  =====================================
slug                label                   roles                           cases
==================  ======================  ==============================  =====================================
reported            待受理                  operator, shift_lead            reported
verified            待受理（核实后）        operator, shift_lead            verified
verifying           核实中                  operator, shift_lead            verifying
self_disposed       自行处置待结案          operator, shift_lead            self_disposed
accepted            待立案                  shift_lead                      accepted
filed               待派遣                  dispatcher                      filed (also what a return sent back)
requests            待审批                  dispatcher, shift_lead          return/extension/suspension_requested
suspended           挂账/缓办               dispatcher, shift_lead          suspended
disposed            待派核查                operator                        disposed
checking            核查中                  operator, shift_lead            checking
check_failed        待返工                  shift_lead, dispatcher          check_failed
checked             待结案                  shift_lead                      checked
reopened            市民反映未解决          operator, shift_lead            reopened
urged               督办件                  leader, shift_lead              any open state, urge_count > 0
unit_new            新派遣（待签收）        unit_handler                    dispatched, not received, rework_count = 0
unit_in_progress    处置中                  unit_handler                    dispatched, received
unit_waiting        申请审批中/挂账         unit_handler                    the three *_requested, suspended
unit_due_soon       即将超时                unit_handler                    dispatched or requested, warned, not overdue
unit_overdue        已超时                  unit_handler                    dispatched or requested, overdue
unit_rework         返工                    unit_handler                    dispatched, rework_count > 0
==================  ======================  ==============================  =====================================

The unit handler's queues hold only cases dispatched to the handler's own unit
(``unit_id = user.scope_unit_id``), on top of the scoping every queue gets from
``Case.objects.restrict(user, "view")``. Queues may overlap (a reworked case that is
overdue is in 返工 and in 已超时); each count is counted on its own.

Deadline states are read from the stored clock fields (``stage_deadline_at``,
``stage_warn_at``, ``stage_overdue``, ``stage_warned``, ``stage_remaining_seconds``);
the calendar is never consulted here. A stored instant that has passed counts even
before the ticker has set the flag, so the badge and the filter never lag behind the
clock on the wall.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.workflow import OPEN_STATES, Role, State
from citykeeper.store.models import Case

_S = State
_R = Role

# The disposal stage: the unit's case, with or without a request pending at the centre.
_AT_UNIT = (_S.DISPATCHED, _S.RETURN_REQUESTED, _S.EXTENSION_REQUESTED, _S.SUSPENSION_REQUESTED)
_REQUESTS = (_S.RETURN_REQUESTED, _S.EXTENSION_REQUESTED, _S.SUSPENSION_REQUESTED)


# ------------------------------------------------------------------ deadline states

DEADLINE_STATES = ("ok", "warn", "overdue", "paused")


def deadline_q(state: str, now: dt.datetime) -> Q:
    """The cases in one deadline state, as a filter on the stored clock fields."""
    paused = Q(stage_remaining_seconds__isnull=False)
    overdue = Q(stage_deadline_at__isnull=False) & (Q(stage_overdue=True) | Q(stage_deadline_at__lte=now))
    warn = (
        Q(stage_deadline_at__isnull=False)
        & ~overdue
        & (Q(stage_warned=True) | Q(stage_warn_at__isnull=False, stage_warn_at__lte=now))
    )
    running = Q(stage_deadline_at__isnull=False) & ~overdue & ~warn
    return {"paused": paused, "overdue": overdue, "warn": warn, "ok": running}[state]


def deadline_state(case: Case, now: dt.datetime | None = None) -> str | None:
    """ "ok" (green), "warn" (yellow), "overdue" (red), "paused" (挂账, the clock is
    stopped) or None (no running clock), from the stored fields only."""
    now = now or timezone.now()
    if case.stage_remaining_seconds is not None:
        return "paused"
    if case.stage_deadline_at is None:
        return None
    if case.stage_overdue or case.stage_deadline_at <= now:
        return "overdue"
    if case.stage_warned or (case.stage_warn_at is not None and case.stage_warn_at <= now):
        return "warn"
    return "ok"


# ------------------------------------------------------------------ the table

# Extra conditions by name, beside the states (``now`` for the time-based ones).
_EXTRA: dict[str, Callable[[dt.datetime], Q]] = {
    "urged": lambda now: Q(urge_count__gt=0),
    "first_dispatch": lambda now: Q(rework_count=0, received_at__isnull=True),
    "received": lambda now: Q(received_at__isnull=False),
    "rework": lambda now: Q(rework_count__gt=0),
    "due_soon": lambda now: deadline_q("warn", now),
    "overdue": lambda now: deadline_q("overdue", now),
}


@dataclass(frozen=True)
class Queue:
    slug: str
    label: str
    roles: frozenset[Role]
    states: tuple[State, ...]
    extra: str | None = None  # a key of _EXTRA
    own_unit: bool = False  # only cases dispatched to the user's unit

    def where(self, user, now: dt.datetime) -> Q:
        q = Q(state__in=[s.value for s in self.states])
        if self.extra:
            q &= _EXTRA[self.extra](now)
        if self.own_unit:
            q &= Q(unit_id=user.scope_unit_id) if user.scope_unit_id else Q(pk__in=[])
        return q


def _q(slug, label, roles, states, *, extra=None, own_unit=False) -> Queue:
    roles = frozenset({roles}) if isinstance(roles, Role) else frozenset(roles)
    states = (states,) if isinstance(states, State) else tuple(states)
    return Queue(slug, label, roles, states, extra=extra, own_unit=own_unit)


_DESK = (_R.OPERATOR, _R.SHIFT_LEAD)
_APPROVERS = (_R.DISPATCHER, _R.SHIFT_LEAD)

QUEUES: tuple[Queue, ...] = (
    _q("reported", _("待受理"), _DESK, _S.REPORTED),
    _q("verified", _("待受理（核实后）"), _DESK, _S.VERIFIED),
    _q("verifying", _("核实中"), _DESK, _S.VERIFYING),
    _q("self_disposed", _("自行处置待结案"), _DESK, _S.SELF_DISPOSED),
    _q("accepted", _("待立案"), _R.SHIFT_LEAD, _S.ACCEPTED),
    _q("filed", _("待派遣"), _R.DISPATCHER, _S.FILED),
    _q("requests", _("待审批"), _APPROVERS, _REQUESTS),
    _q("suspended", _("挂账/缓办"), _APPROVERS, _S.SUSPENDED),
    _q("disposed", _("待派核查"), _R.OPERATOR, _S.DISPOSED),
    _q("checking", _("核查中"), _DESK, _S.CHECKING),
    _q("check_failed", _("待返工"), (_R.SHIFT_LEAD, _R.DISPATCHER), _S.CHECK_FAILED),
    _q("checked", _("待结案"), _R.SHIFT_LEAD, _S.CHECKED),
    _q("reopened", _("市民反映未解决"), _DESK, _S.REOPENED),
    _q("urged", _("督办件"), (_R.LEADER, _R.SHIFT_LEAD), sorted(OPEN_STATES), extra="urged"),
    _q("unit_new", _("新派遣（待签收）"), _R.UNIT_HANDLER, _S.DISPATCHED, extra="first_dispatch", own_unit=True),
    _q("unit_in_progress", _("处置中"), _R.UNIT_HANDLER, _S.DISPATCHED, extra="received", own_unit=True),
    _q("unit_waiting", _("申请审批中/挂账"), _R.UNIT_HANDLER, (*_REQUESTS, _S.SUSPENDED), own_unit=True),
    _q("unit_due_soon", _("即将超时"), _R.UNIT_HANDLER, _AT_UNIT, extra="due_soon", own_unit=True),
    _q("unit_overdue", _("已超时"), _R.UNIT_HANDLER, _AT_UNIT, extra="overdue", own_unit=True),
    _q("unit_rework", _("返工"), _R.UNIT_HANDLER, _S.DISPATCHED, extra="rework", own_unit=True),
)
BY_SLUG: dict[str, Queue] = {q.slug: q for q in QUEUES}
if len(BY_SLUG) != len(QUEUES):  # a copied row must not silently shadow another
    raise RuntimeError("duplicate queue slug")

# Roles that have at least one queue: the console's users.
CONSOLE_ROLES = frozenset().union(*(q.roles for q in QUEUES))


# ------------------------------------------------------------------ reads


def queues_for(user) -> list[Queue]:
    """The queues the user's roles see, in table order (none for an anonymous user)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    roles = user.roles
    return [q for q in QUEUES if q.roles & roles]


def queue_for(user, slug: str) -> Queue | None:
    """The queue named ``slug`` if the user's roles see it."""
    queue = BY_SLUG.get(slug)
    return queue if queue is not None and queue in queues_for(user) else None


def queue_cases(user, slug: str, now: dt.datetime | None = None) -> QuerySet[Case]:
    """The cases in one of the user's queues, already scoped with ``restrict(user, "view")``.
    A queue the user does not have yields no cases."""
    queue = queue_for(user, slug)
    if queue is None:
        return Case.objects.none()
    now = now or timezone.now()
    return Case.objects.restrict(user, "view").filter(queue.where(user, now))


def counts(user, now: dt.datetime | None = None) -> dict[str, int]:
    """{slug: number of cases} for each of the user's queues, in one query."""
    queues = queues_for(user)
    if not queues:
        return {}
    now = now or timezone.now()
    aggregates = {q.slug: Count("pk", filter=q.where(user, now)) for q in queues}
    # Only open states are ever counted: the state index keeps the scan to the queues' rows,
    # not the millions of closed cases.
    states = sorted({s.value for q in queues for s in q.states})
    result = Case.objects.restrict(user, "view").filter(state__in=states).aggregate(**aggregates)
    return {q.slug: result[q.slug] or 0 for q in queues}
