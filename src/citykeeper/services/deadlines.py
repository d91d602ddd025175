"""Deadline warnings and overdue marks, fired by the ticker.

A case stores ``next_deadline_at``: its warning instant until the warning fires,
then its deadline until the overdue mark fires, then NULL. Firing is a
compare-and-set on that column, so any number of tickers can run side by side and
each due instant fires exactly once (healthchecks' ``sendalerts`` pattern).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from citykeeper.services import counters
from citykeeper.services.cases import after_commit, chain_fields, clock_fields, clock_of, next_event
from citykeeper.store.bulk import insert_new
from citykeeper.store.models import Case

log = logging.getLogger(__name__)

WARNING = "deadline_warning"
OVERDUE = "deadline_overdue"


def fire_due(case_id: int, *, expected_due: dt.datetime, now: dt.datetime) -> str | None:
    """Fire the one due mark of this case if it is still the one we saw; return its kind."""
    return _fire(case_id, expected_due=expected_due, now=now)[0]


def _fire(case_id: int, *, expected_due: dt.datetime, now: dt.datetime) -> tuple[str | None, dt.datetime | None]:
    """``fire_due``, also returning the case's ``next_deadline_at`` as it stands afterwards.

    Steps: 1. lock the row; 2. if its ``next_deadline_at`` is no longer
    ``expected_due`` another ticker (or a move) got there first: do nothing;
    3. decide warning or overdue from the clock; 4. compare-and-set the clock
    fields; 5. append the event, dated at the instant that fell due (not ``now``)
    so the record says when the limit was really reached.
    """
    with transaction.atomic():
        try:
            case = Case.objects.select_for_update().get(pk=case_id)
        except Case.DoesNotExist:
            return None, None
        if case.next_deadline_at != expected_due or expected_due > now:
            return None, case.next_deadline_at
        clock = clock_of(case)
        if clock is None:
            return None, case.next_deadline_at
        if not clock.warned and clock.warn_at is not None and clock.warn_at <= now:
            kind, due_at = WARNING, clock.warn_at
            clock = _replace(clock, warned=True)
        elif not clock.overdue and clock.deadline_at is not None and clock.deadline_at <= now:
            kind, due_at = OVERDUE, clock.deadline_at
            clock = _replace(clock, warned=True, overdue=True)
        else:
            return None, case.next_deadline_at
        fields = {
            k: v for k, v in clock_fields(clock).items() if k in ("stage_warned", "stage_overdue", "next_deadline_at")
        }
        for name, value in fields.items():
            setattr(case, name, value)
        event = next_event(
            case,
            kind=kind,
            at=due_at,
            role="system",
            from_state=case.state,
            to_state=case.state,
            data={"stage": case.stage, "deadline_at": case.stage_deadline_at.isoformat()},
        )
        fields.update(chain_fields(event))
        won = Case.objects.filter(pk=case_id, next_deadline_at=expected_due).update(**fields)
        if won != 1:
            return None, expected_due
        insert_new(event)
        counters.record_case(case_id, kind=kind)
    after_commit(case, kind, None, "system")
    return kind, case.next_deadline_at


def _replace(clock, **kw):
    from dataclasses import replace

    return replace(clock, **kw)


def due_cases(now: dt.datetime, limit: int = 200) -> list[tuple[int, dt.datetime]]:
    """(id, due instant) of cases whose next mark is due, earliest first (uses case_due_idx)."""
    return list(
        Case.objects.filter(next_deadline_at__isnull=False, next_deadline_at__lte=now)
        .order_by("next_deadline_at")
        .values_list("id", "next_deadline_at")[:limit]
    )


def catch_up(case: Case, *, now: dt.datetime) -> list[str]:
    """Fire every mark of one case that is due by ``now`` (warning, then overdue).

    Starts from the due instant on ``case``; when that row is stale, the locked row's
    own instant is tried next, so a stale copy costs one round and misses nothing.
    Leaves ``case.next_deadline_at`` as stored afterwards.
    """
    fired: list[str] = []
    due = case.next_deadline_at
    while due is not None and due <= now:
        kind, current = _fire(case.pk, expected_due=due, now=now)
        if kind is None and current == due:
            break  # due, but nothing to fire (no running clock)
        if kind is not None:
            fired.append(kind)
        due = current
    case.next_deadline_at = due
    return fired
