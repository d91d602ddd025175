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
import json
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
# What the rules read from a case; both paths read exactly these (and ``_event_sql``).
CASE_FIELDS = ("source", "area_id", "category_id", "reporter_id", "assignee_id")
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


def _event_sql(where: str, order: str) -> str:
    """The one statement both paths read events with: only the columns and the parts of the
    JSON the rules read (whether a stage outcome was recorded, its ``on_time`` and
    ``deadline_at``, a dispatch's unit code), extracted by the database so that a rebuild
    does not parse twenty million JSON documents in Python."""
    if connection.vendor == "postgresql":
        on_time = "e.outcome ->> 'on_time' = 'true'"
        deadline = "e.outcome ->> 'deadline_at'"
        unit = "e.data ->> 'unit'"
        # Seconds since the epoch: turned into datetimes in C, where Django's timestamptz
        # loader (Python) would cost a third of a rebuild.
        at, deadline_at = "EXTRACT(EPOCH FROM e.at)::float8", "EXTRACT(EPOCH FROM e.stage_deadline_at)::float8"
    else:  # SQLite's json_extract gives 1 for JSON true; timestamps as text (parsed in C)
        at, deadline_at = "CAST(e.at AS TEXT)", "CAST(e.stage_deadline_at AS TEXT)"
        on_time = "json_extract(e.outcome, '$.on_time') = 1"
        deadline = "json_extract(e.outcome, '$.deadline_at')"
        unit = "json_extract(e.data, '$.unit')"
    table = connection.ops.quote_name(CaseEvent._meta.db_table)
    neutral = ", ".join(f"'{kind}'" for kind in _NEUTRAL)  # fixed names of this module, not input
    return (
        f"SELECT e.case_id, e.kind, {at}, e.actor_id, e.actor_role, e.from_state, e.to_state, "
        f"e.outcome IS NOT NULL, {on_time}, {deadline}, "
        f"CASE WHEN e.kind = 'dispatch' THEN {unit} END, {deadline_at} "
        f"FROM {table} e WHERE e.kind NOT IN ({neutral}) AND {where} ORDER BY {order}"
    )


def _instant(value) -> dt.datetime | None:
    """A timestamp as ``_event_sql`` gives it: seconds since the epoch from PostgreSQL,
    UTC text from SQLite (a naive UTC datetime where Django's converter ran first)."""
    if value is None:
        return None
    if isinstance(value, float | int):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _event(row: Sequence) -> EventFacts:
    """A row of ``_event_sql`` (without its case id) as the rules read it: the outcome and
    the data reduced to the keys they look at."""
    kind, at, actor_id, actor_role, from_state, to_state, ended, on_time, deadline, unit, deadline_at = row
    outcome = None
    if ended:
        outcome = {"on_time": bool(on_time)}
        if deadline is not None:
            outcome["deadline_at"] = deadline
    return EventFacts(
        kind,
        _instant(at),
        actor_id,
        actor_role,
        from_state,
        to_state,
        outcome,
        {"unit": unit} if unit is not None else {},
        _instant(deadline_at),
    )


def _case_events(case_id: int) -> list[EventFacts]:
    with connection.cursor() as cursor:
        cursor.execute(_event_sql("e.case_id = %s", "e.seq"), [case_id])
        return [_event(row[1:]) for row in cursor.fetchall()]


def _dispatch_units(events: Iterable[EventFacts]) -> set[str]:
    return {e.data["unit"] for e in events if e.kind == "dispatch" and e.data.get("unit")}


def _as_json(values: Stored) -> list[list]:
    """The stored form, sorted so both paths write the same list."""
    iso: dict[dt.date, str] = {}  # a case's entries fall on a few days
    rows = []
    for (counter, day, kind, sid, key), value in values.items():
        text = iso.get(day)
        if text is None:
            text = iso[day] = day.isoformat()
        rows.append([counter, text, kind, sid, key, value])
    rows.sort()
    return rows


def _from_json(rows: list | None) -> Stored:
    return {(c, dt.date.fromisoformat(d), k, s, key): v for c, d, k, s, key, v in rows or ()}


def subject_days(values: Stored) -> dict[tuple[str, int], tuple[dt.date, dt.date]]:
    """(subject kind, id) → (first, last) day of a case's contributions: its CaseSubject rows."""
    out: dict[tuple[str, int], tuple[dt.date, dt.date]] = {}
    for _counter, day, kind, sid, _key in values:
        pair = (kind, sid)
        span = out.get(pair)
        if span is None:
            out[pair] = (day, day)
        elif day < span[0]:
            out[pair] = (day, span[1])
        elif day > span[1]:
            out[pair] = (span[0], day)
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
    events = _case_events(case_id)
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
    """Every case with its events, both streamed in case order (no model instances; on
    PostgreSQL through server-side cursors)."""
    key_problems = set(Category.objects.filter(key_problem=True).values_list("id", flat=True))
    cases = Case.objects.order_by("id").values_list("id", *CASE_FIELDS).iterator(chunk_size=batch)

    def stream() -> Iterator[Sequence]:
        with connection.chunked_cursor() as cursor:
            cursor.execute(_event_sql("1 = 1", "e.case_id, e.seq"))
            while chunk := cursor.fetchmany(batch):
                yield from chunk

    events = stream()
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


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _counter_line(row) -> str:
    grain, period, counter, kind, sid, key, value = row  # names of this module: nothing to escape
    return f"{grain}\t{period.isoformat()}\t{counter}\t{kind}\t{sid}\t{key}\t{value}"


def _subject_line(row) -> str:
    case_id, kind, sid, first, last = row
    return f"{case_id}\t{kind}\t{sid}\t{first.isoformat()}\t{last.isoformat()}"


def _contribution_line(row) -> str:
    case_id, text = row
    return f"{case_id}\t{text.translate(_COPY_ESCAPES)}"


def _write(model, columns: list[str], rows: Iterable[Sequence], batch: int, line=None) -> int:
    """Insert ``rows``; on PostgreSQL with COPY's text format built by ``line`` (one write
    per batch: psycopg's write_row costs microseconds a row, and a year's rebuild writes
    tens of millions)."""
    if connection.vendor == "postgresql":
        names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
        written = 0
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(model._meta.db_table)
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                lines = []
                for row in rows:
                    lines.append(line(row))
                    written += 1
                    if len(lines) >= batch:
                        copy.write("\n".join(lines) + "\n")
                        lines = []
                if lines:
                    copy.write("\n".join(lines) + "\n")
        return written
    return insert_rows(model, columns, rows, batch=batch)


Tail = tuple[str, str, int, int]  # (counter, subject kind, subject id, key)


class _Totals:
    """The counter rows of a rebuild, summed in memory only while they can still change.

    Cases come in id order, which is the order they were reported in, and nothing a case
    contributes is dated before its report. So once a case reported on day D is read, the
    rows of days before D − 1 (one day of slack for ids and report times that disagree
    around midnight) are final: they are written out and dropped. Memory holds the days
    still open (a few weeks: cases open that long), not the year. A case that contributes
    to a day already written (an imported case with an old report time and a new id) is
    not lost: its amounts are kept apart and added to the written rows at the end."""

    SLACK = dt.timedelta(days=1)

    def __init__(self) -> None:
        self.days: dict[dt.date, dict[Tail, int]] = {}
        self.months: dict[dt.date, dict[Tail, int]] = {}
        self.late: Counter = Counter()
        self.days_before = dt.date.min  # days before this one are written
        self.months_before = dt.date.min

    def add(self, values: Stored) -> None:
        """A case's contributions: into its days (months are summed from the days as they
        are written out) or, for a day already written, into the late rows."""
        days, late = self.days, self.late
        for (counter, day, kind, sid, key), value in values.items():
            tail = (counter, kind, sid, key)
            if day >= self.days_before:
                held = days.get(day)
                if held is None:
                    held = days[day] = {}
                held[tail] = held.get(tail, 0) + value
            else:
                late[(DAY, day, *tail)] += value
                month = day.replace(day=1)
                if month >= self.months_before:
                    self._into_month(month, {tail: value})
                else:
                    late[(MONTH, month, *tail)] += value

    def _into_month(self, month: dt.date, rows: dict[Tail, int]) -> None:
        held = self.months.get(month)
        if held is None:
            self.months[month] = dict(rows)
            return
        for tail, value in rows.items():
            held[tail] = held.get(tail, 0) + value

    def final(self, reported: dt.date | None) -> list[tuple]:
        """Take out the rows no later case can change, given the report day of the case
        just read (``None``: the end, every row)."""
        if reported is None:
            days_before = months_before = dt.date.max
        else:
            days_before = reported - self.SLACK
            if days_before <= self.days_before:
                return []  # the usual case: the same day as the case before
            months_before = days_before.replace(day=1)
        self.days_before, self.months_before = days_before, max(self.months_before, months_before)
        rows: list[tuple] = []
        for day in sorted(d for d in self.days if d < days_before):
            held = self.days.pop(day)
            rows += [(DAY, day, *tail, value) for tail, value in sorted(held.items()) if value]
            self._into_month(day.replace(day=1), held)
        for month in sorted(m for m in self.months if m < self.months_before):
            rows += [(MONTH, month, *tail, value) for tail, value in sorted(self.months.pop(month).items()) if value]
        return rows


def rebuild(*, batch: int = 5000) -> dict[str, int | float]:
    """Recompute every counter and every case's contribution from the event log and
    replace the three tables' contents in one transaction; return what was done."""
    started = time.perf_counter()
    tz = _tz()
    unit_ids = dict(Unit.objects.values_list("code", "id"))
    totals = _Totals()
    stats = {"cases": 0, "events": 0, "rows": 0, "late_rows": 0}
    pg = connection.vendor == "postgresql"

    def stored(values: Stored):
        data = _as_json(values)
        if pg:  # COPY takes JSON text; insert_rows adapts through the field itself
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return data

    with transaction.atomic():
        models = (EvaluationCounter, CaseContribution, CaseSubject)
        tables = [connection.ops.quote_name(m._meta.db_table) for m in models]
        with connection.cursor() as cursor:
            if pg:  # a year is tens of millions of rows: TRUNCATE (transactional there) drops them at once
                # TRUNCATE refuses while foreign-key checks of this transaction are pending
                # (the demo rebuilds inside its load): run them now, then defer again.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"TRUNCATE {', '.join(tables)}")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            else:  # SQLite's DELETE without WHERE is its truncate
                for table in tables:
                    cursor.execute(f"DELETE FROM {table}")
        # Written a batch at a time between reads: on PostgreSQL a COPY cannot run while
        # the event stream's server-side cursor is being fetched from.
        contributions_, subjects, rows = [], [], []
        subject_columns = ["case_id", "subject_kind", "subject_id", "first_day", "last_day"]
        counter_columns = [*ROW_KEY, "value"]

        def flush() -> None:
            _write(CaseContribution, ["case_id", "contributions"], contributions_, batch, _contribution_line)
            _write(CaseSubject, subject_columns, subjects, batch, _subject_line)
            stats["rows"] += _write(EvaluationCounter, counter_columns, rows, batch, _counter_line)
            contributions_.clear(), subjects.clear(), rows.clear()

        for case_id, facts, history in _histories(batch):
            values = contributions(facts, history, tz=tz, unit_ids=unit_ids)
            totals.add(values)
            stats["cases"] += 1
            stats["events"] += len(history)
            contributions_.append((case_id, stored(values)))
            subjects += [(case_id, kind, sid, *days) for (kind, sid), days in subject_days(values).items()]
            if history:
                rows += totals.final(history[0].at.astimezone(tz).date())
            if len(contributions_) >= batch:
                flush()
        rows += totals.final(None)
        flush()
        late = {key: value for key, value in totals.late.items() if value}
        stats["late_rows"] = len(late)
        _apply(late)
    summary = {**stats, "seconds": round(time.perf_counter() - started, 2)}
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
