"""Evaluation counters: kept up to date as events are written, rebuilt from the log on demand.

``record_case`` runs inside the transaction that wrote a case's event (the case row is
locked there): it recomputes what the case contributes from its whole history
(``domain.evaluation.contributions``), compares that with what the case contributed
before (``CaseContribution``) and adds the difference to the day and month rows with one
``INSERT … ON CONFLICT … DO UPDATE SET value = value + excluded.value`` statement. Rows
are written in key order, so two transactions touching the same rows wait for each other
instead of deadlocking, and no update is lost. Rows that reach zero are deleted, so the
table holds exactly the rows ``rebuild`` writes.

``rebuild`` recomputes everything from the event log with the same function and the same
inputs, so its rows equal the incremental ones (``citykeeper evaluate --rebuild``).

``read`` sums a day range from month rows for whole months and day rows for the rest.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum

from citykeeper.domain.evaluation.contributions import NEUTRAL_KINDS, CaseFacts, EventFacts, Key, contributions
from citykeeper.store.bulk import insert_rows
from citykeeper.store.models import (
    Case,
    CaseContribution,
    CaseEvent,
    CaseSubject,
    Category,
    EvaluationCounter,
    Unit,
)

log = logging.getLogger(__name__)

DAY, MONTH = "day", "month"
ROW_KEY = ("grain", "period_start", "counter", "subject_kind", "subject_id", "key")
# What the rules read from a case and from its events; both paths read exactly these.
CASE_FIELDS = ("source", "area_id", "category_id", "reporter_id", "assignee_id")
EVENT_FIELDS = (
    "kind",
    "at",
    "actor_id",
    "actor_role",
    "from_state",
    "to_state",
    "outcome",
    "data",
    "stage_deadline_at",
)
_NEUTRAL = sorted(str(kind) for kind in NEUTRAL_KINDS)
UPSERT_BATCH = 500  # rows per statement (7 parameters each, far below SQLite's limit)

Stored = dict[Key, int]
RowKey = tuple[str, dt.date, str, str, int, int]  # (grain, period_start, counter, kind, id, key)


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _facts(source, grid_id, category_id, reporter_id, assignee_id, *, key_problem: bool) -> CaseFacts:
    return CaseFacts(
        source=source,
        grid_id=grid_id,
        key=category_id if key_problem else 0,
        reporter_id=reporter_id,
        assignee_id=assignee_id,
    )


def _event(row: Sequence) -> EventFacts:
    kind, at, actor_id, actor_role, from_state, to_state, outcome, data, deadline_at = row
    return EventFacts(kind, at, actor_id, actor_role, from_state, to_state, outcome, data or {}, deadline_at)


def _dispatch_units(events: Iterable[EventFacts]) -> set[str]:
    return {e.data["unit"] for e in events if e.kind == "dispatch" and e.data.get("unit")}


def _as_json(values: Stored) -> list[list]:
    """The stored form, sorted so both paths write the same list."""
    return sorted(
        [counter, day.isoformat(), kind, sid, key, value] for (counter, day, kind, sid, key), value in values.items()
    )


def _from_json(rows: list | None) -> Stored:
    return {(c, dt.date.fromisoformat(d), k, s, key): v for c, d, k, s, key, v in rows or ()}


def subject_days(values: Stored) -> dict[tuple[str, int], tuple[dt.date, dt.date]]:
    """(subject kind, id) → (first, last) day of a case's contributions: its CaseSubject rows."""
    out: dict[tuple[str, int], tuple[dt.date, dt.date]] = {}
    for _counter, day, kind, sid, _key in values:
        first, last = out.get((kind, sid), (day, day))
        out[(kind, sid)] = (min(first, day), max(last, day))
    return out


def _row_deltas(values: Stored, sign: int = 1, into: Counter | None = None) -> Counter:
    """Day and month row keys of ``values`` with their amounts."""
    out = Counter() if into is None else into
    for (counter, day, kind, sid, key), value in values.items():
        out[(DAY, day, counter, kind, sid, key)] += sign * value
        out[(MONTH, day.replace(day=1), counter, kind, sid, key)] += sign * value
    return out


# ---------------------------------------------------------------- as events are written


_deferred = contextvars.ContextVar("evaluation_counters_deferred", default=False)


@contextlib.contextmanager
def deferred():
    """Inside, events do not update the counters; at the end (unless the block raised) the
    counters are rebuilt once. For bulk loads through the services (the demo's history):
    the same rows as keeping them move by move (rebuild equals incremental), in a fraction
    of the time."""
    token = _deferred.set(True)
    try:
        yield
    finally:
        _deferred.reset(token)
    rebuild()


def record_case(case_id: int, *, kind: str | None = None) -> None:
    """Bring the counters up to date with case ``case_id``'s history; call it inside the
    transaction that wrote the event (``kind``: the event's kind, to skip neutral ones)."""
    if kind in NEUTRAL_KINDS or _deferred.get():
        return
    source, grid_id, category_id, reporter_id, assignee_id, key_problem, before = (
        Case.objects.filter(pk=case_id)
        .values_list(*CASE_FIELDS, "category__key_problem", "evaluation_contribution__contributions")
        .get()
    )
    case = _facts(source, grid_id, category_id, reporter_id, assignee_id, key_problem=key_problem)
    events = [
        _event(row)
        for row in CaseEvent.objects.filter(case_id=case_id)
        .exclude(kind__in=_NEUTRAL)
        .order_by("seq")
        .values_list(*EVENT_FIELDS)
    ]
    codes = _dispatch_units(events)
    unit_ids = dict(Unit.objects.filter(code__in=codes).values_list("code", "id")) if codes else {}
    now = contributions(case, events, tz=_tz(), unit_ids=unit_ids)
    old = _from_json(before)
    if now == old and before is not None:
        return
    deltas = _row_deltas(old, -1, _row_deltas(now))
    _apply({k: v for k, v in deltas.items() if v})
    _store_contribution(case_id, now)
    _store_subjects(case_id, subject_days(old), subject_days(now))


def _apply(deltas: dict[RowKey, int]) -> None:
    if not deltas:
        return
    table = connection.ops.quote_name(EvaluationCounter._meta.db_table)
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in (*ROW_KEY, "value"))
    conflict = ", ".join(q(c) for c in ROW_KEY)
    adapt = connection.ops.adapt_datefield_value
    rows = sorted(deltas.items())  # one lock order for every writer: no deadlocks
    emptied = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPSERT_BATCH):
            chunk = rows[start : start + UPSERT_BATCH]
            marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params = []
            for (grain, period, counter, kind, sid, key), value in chunk:
                params += [grain, adapt(period), counter, kind, sid, key, value]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {marks} "
                f"ON CONFLICT ({conflict}) DO UPDATE SET {q('value')} = {table}.{q('value')} + excluded.{q('value')} "
                f"RETURNING {q('id')}, {q('value')}",
                params,
            )
            emptied += [row_id for row_id, value in cursor.fetchall() if value == 0]
        if emptied:
            marks = ", ".join(["%s"] * len(emptied))
            cursor.execute(f"DELETE FROM {table} WHERE {q('value')} = 0 AND {q('id')} IN ({marks})", emptied)


def _store_contribution(case_id: int, values: Stored) -> None:
    field = CaseContribution._meta.get_field("contributions")
    table = connection.ops.quote_name(CaseContribution._meta.db_table)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({q('case_id')}, {q('contributions')}) VALUES (%s, %s) "
            f"ON CONFLICT ({q('case_id')}) DO UPDATE SET {q('contributions')} = excluded.{q('contributions')}",
            [case_id, field.get_db_prep_save(_as_json(values), connection)],
        )


def _store_subjects(case_id: int, before: dict, after: dict) -> None:
    """Bring the case's CaseSubject rows from ``before`` to ``after``: one upsert for the
    pairs whose days changed (most moves change only the last day), one delete for the gone."""
    q = connection.ops.quote_name
    table = q(CaseSubject._meta.db_table)
    adapt = connection.ops.adapt_datefield_value
    changed = sorted((pair, days) for pair, days in after.items() if before.get(pair) != days)
    gone = sorted(pair for pair in before if pair not in after)
    with connection.cursor() as cursor:
        if changed:
            marks = ", ".join(["(%s, %s, %s, %s, %s)"] * len(changed))
            params = []
            for (kind, sid), (first, last) in changed:
                params += [case_id, kind, sid, adapt(first), adapt(last)]
            first, last = q("first_day"), q("last_day")
            cursor.execute(
                f"INSERT INTO {table} ({q('case_id')}, {q('subject_kind')}, {q('subject_id')}, {first}, {last}) "
                f"VALUES {marks} ON CONFLICT ({q('subject_kind')}, {q('subject_id')}, {q('case_id')}) "
                f"DO UPDATE SET {first} = excluded.{first}, {last} = excluded.{last}",
                params,
            )
        if gone:
            where = " OR ".join([f"({q('subject_kind')} = %s AND {q('subject_id')} = %s)"] * len(gone))
            cursor.execute(
                f"DELETE FROM {table} WHERE {q('case_id')} = %s AND ({where})",
                [case_id, *[v for pair in gone for v in pair]],
            )


# ---------------------------------------------------------------- rebuild


def _histories(batch: int) -> Iterator[tuple[int, CaseFacts, list[EventFacts]]]:
    """Every case with its events, both streamed in case order (no model instances)."""
    key_problems = set(Category.objects.filter(key_problem=True).values_list("id", flat=True))
    cases = Case.objects.order_by("id").values_list("id", *CASE_FIELDS).iterator(chunk_size=batch)
    events = (
        CaseEvent.objects.exclude(kind__in=_NEUTRAL)
        .order_by("case_id", "seq")
        .values_list("case_id", *EVENT_FIELDS)
        .iterator(chunk_size=batch)
    )
    pending = next(events, None)
    for case_id, source, grid_id, category_id, reporter_id, assignee_id in cases:
        while pending is not None and pending[0] < case_id:  # events of a case that is gone: none expected
            pending = next(events, None)
        history = []
        while pending is not None and pending[0] == case_id:
            history.append(_event(pending[1:]))
            pending = next(events, None)
        facts = _facts(source, grid_id, category_id, reporter_id, assignee_id, key_problem=category_id in key_problems)
        yield case_id, facts, history


def _write(model, columns: list[str], rows: Iterable[Sequence], batch: int) -> int:
    if connection.vendor == "postgresql":
        names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
        written = 0
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(model._meta.db_table)
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
        return written
    return insert_rows(model, columns, rows, batch=batch)


def rebuild(*, batch: int = 5000) -> dict[str, int | float]:
    """Recompute every counter and every case's contribution from the event log and
    replace both tables' contents in one transaction; return what was done."""
    started = time.perf_counter()
    tz = _tz()
    unit_ids = dict(Unit.objects.values_list("code", "id"))
    totals: Counter = Counter()
    stats = {"cases": 0, "events": 0}
    pg = connection.vendor == "postgresql"

    def stored(values: Stored):
        data = _as_json(values)
        if pg:  # COPY takes the adapter; insert_rows adapts through the field itself
            from psycopg.types.json import Jsonb

            return Jsonb(data)
        return data

    with transaction.atomic():
        with connection.cursor() as cursor:
            for model in (EvaluationCounter, CaseContribution, CaseSubject):
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        # Written a batch at a time between reads: on PostgreSQL a COPY cannot run while
        # the event stream's server-side cursor is being fetched from.
        buffer: list[tuple] = []
        subjects: list[tuple] = []
        subject_columns = ["case_id", "subject_kind", "subject_id", "first_day", "last_day"]
        for case_id, facts, history in _histories(batch):
            values = contributions(facts, history, tz=tz, unit_ids=unit_ids)
            _row_deltas(values, 1, totals)
            stats["cases"] += 1
            stats["events"] += len(history)
            buffer.append((case_id, stored(values)))
            subjects += [(case_id, kind, sid, *days) for (kind, sid), days in subject_days(values).items()]
            if len(buffer) >= batch:
                _write(CaseContribution, ["case_id", "contributions"], buffer, batch)
                _write(CaseSubject, subject_columns, subjects, batch)
                buffer, subjects = [], []
        _write(CaseContribution, ["case_id", "contributions"], buffer, batch)
        _write(CaseSubject, subject_columns, subjects, batch)
        rows = [(*key, value) for key, value in sorted(totals.items()) if value]
        written = _write(EvaluationCounter, [*ROW_KEY, "value"], rows, batch)
    summary = {**stats, "rows": written, "seconds": round(time.perf_counter() - started, 2)}
    log.info("evaluation counters rebuilt", extra=summary)
    return summary


# ---------------------------------------------------------------- reading


def _months(first: dt.date, last: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """Split the inclusive range into whole months and the day ranges left over."""
    months, days = [], []
    cursor = first
    while cursor <= last:
        month_end = (cursor.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        if cursor.day == 1 and month_end <= last:
            months.append(cursor)
        else:
            days.append((cursor, min(month_end, last)))
        cursor = month_end + dt.timedelta(days=1)
    return months, days


def read(
    period_start: dt.date,
    period_end: dt.date,
    counters: Iterable[str] | None = None,
    subject_kind: str | None = None,
) -> dict[tuple[str, str, int, int], int]:
    """Sums over the inclusive day range, by (counter, subject kind, subject id, key)."""
    months, day_ranges = _months(period_start, period_end)
    when = Q(pk__in=[])
    if months:
        when |= Q(grain=MONTH, period_start__in=months)
    for first, last in day_ranges:
        when |= Q(grain=DAY, period_start__gte=first, period_start__lte=last)
    rows = EvaluationCounter.objects.filter(when)
    if counters is not None:
        rows = rows.filter(counter__in=list(counters))
    if subject_kind is not None:
        rows = rows.filter(subject_kind=subject_kind)
    grouped = rows.values_list("counter", "subject_kind", "subject_id", "key").annotate(total=Sum("value")).order_by()
    return {(c, k, s, key): total for c, k, s, key, total in grouped if total}


def rows() -> list[tuple]:
    """Every counter row as a sorted list of tuples (for checks and tests)."""
    return sorted(EvaluationCounter.objects.values_list(*ROW_KEY, "value"))


def subject_rows() -> list[tuple]:
    """Every CaseSubject row as a sorted list of tuples (for checks and tests)."""
    return sorted(CaseSubject.objects.values_list("case_id", "subject_kind", "subject_id", "first_day", "last_day"))
