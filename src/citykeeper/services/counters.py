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
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from citykeeper.domain.evaluation.contributions import (
    NEUTRAL_KINDS,
    ByDay,
    CaseFacts,
    Entry,
    EventFacts,
    Key,
    contributions_by_day,
)
from citykeeper.domain.workflow import Action
from citykeeper.store.bulk import indexes_deferred, insert_rows
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
_APPROVE_EXTENSION = str(Action.APPROVE_EXTENSION)
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
    does not parse twenty million JSON documents in Python. Only what the rules read: an
    outcome's ``deadline_at`` only when it was not on time, the stage deadline only of an
    approved extension."""
    if connection.vendor == "postgresql":
        on_time = "e.outcome ->> 'on_time' = 'true'"
        deadline = "e.outcome ->> 'deadline_at'"
        unit = "e.data ->> 'unit'"
        # Seconds since the epoch: turned into datetimes in C, where Django's timestamptz
        # loader (Python) would cost a third of a rebuild. date_part gives a float8 itself
        # (EXTRACT computes a numeric, a third of the query's time).
        at, deadline_at = "date_part('epoch', e.at)", "date_part('epoch', e.stage_deadline_at)"
    else:  # SQLite's json_extract gives 1 for JSON true; timestamps as text (parsed in C)
        at, deadline_at = "CAST(e.at AS TEXT)", "CAST(e.stage_deadline_at AS TEXT)"
        on_time = "json_extract(e.outcome, '$.on_time') = 1"
        deadline = "json_extract(e.outcome, '$.deadline_at')"
        unit = "json_extract(e.data, '$.unit')"
    table = connection.ops.quote_name(CaseEvent._meta.db_table)
    neutral = ", ".join(f"'{kind}'" for kind in _NEUTRAL)  # fixed names of this module, not input
    return (
        f"SELECT e.case_id, e.kind, {at}, e.actor_id, e.actor_role, e.from_state, e.to_state, "
        f"e.outcome IS NOT NULL, {on_time}, CASE WHEN {on_time} THEN NULL ELSE {deadline} END, "
        f"CASE WHEN e.kind = 'dispatch' THEN {unit} END, "
        f"CASE WHEN e.kind = '{_APPROVE_EXTENSION}' THEN {deadline_at} END "
        f"FROM {table} e WHERE e.kind NOT IN ({neutral}) AND {where} ORDER BY {order}"
    )


def _instant(value) -> dt.datetime | None:
    """A timestamp as ``_event_sql`` gives it: seconds since the epoch from PostgreSQL,
    UTC text from SQLite (a naive UTC datetime where Django's converter ran first)."""
    if type(value) is float:  # the usual case first: called twenty million times in a rebuild
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if value is None:
        return None
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


_ON_TIME, _LATE = {"on_time": True}, {"on_time": False}  # shared: the rules only read outcomes
_NO_DATA: dict = {}
_fromtimestamp, _UTC = dt.datetime.fromtimestamp, dt.UTC


def _event(row: Sequence) -> EventFacts:
    """A row of ``_event_sql`` as the rules read it: the outcome and the data reduced to the
    keys they look at."""
    _case, kind, at, actor_id, actor_role, from_state, to_state, ended, on_time, deadline, unit, deadline_at = row
    outcome = None
    if ended:
        if deadline is not None:
            outcome = {"on_time": bool(on_time), "deadline_at": deadline}
        else:
            outcome = _ON_TIME if on_time else _LATE
    return EventFacts(
        kind,
        _fromtimestamp(at, _UTC) if type(at) is float else _instant(at),
        actor_id,
        actor_role,
        from_state,
        to_state,
        outcome,
        {"unit": unit} if unit is not None else _NO_DATA,
        None if deadline_at is None else _instant(deadline_at),
    )


def _case_events(case_id: int) -> list[EventFacts]:
    with connection.cursor() as cursor:
        cursor.execute(_event_sql("e.case_id = %s", "e.seq"), [case_id])
        return [_event(row) for row in cursor.fetchall()]


def _dispatch_units(events: Iterable[EventFacts]) -> set[str]:
    return {e.data["unit"] for e in events if e.kind == "dispatch" and e.data.get("unit")}


# The stored form of a case's contributions (``CaseContribution.contributions``): its days,
# separated by ";", each "YYYY-MM-DD=" and its entries separated by ",", an entry being
# "counter kind id", followed by " value" unless the value is 1 and by " key" unless the key
# is 0 (the value is then always written). So
# "2026-10-03=reported grid 12,reported inspector 7;2026-10-05=handling_seconds unit 3 86400".
# Plain text, not JSON: a year's rebuild writes millions of these, and PostgreSQL parses and
# compresses jsonb several times slower than it copies text (see docs/benchmarks.md).
DAYS, ENTRIES, FIELDS, DAY_MARK = ";", ",", " ", "="


def stored(by_day: ByDay) -> tuple[str, dict[tuple[str, int], list[str]]]:
    """A case's contributions (``contributions_by_day``) in their stored form, with its
    CaseSubject rows: (subject kind, id) → [first, last] day of its entries, as
    "YYYY-MM-DD" (the form COPY takes; ``_day_spans`` gives dates). One pass over the
    entries: a rebuild runs this for every case."""
    parts: list[str] = []
    spans: dict[tuple[str, int], list[str]] = {}
    for day, held in by_day.items():
        iso = day.isoformat()
        texts = []
        for (counter, kind, sid, key), value in held.items():
            if key:
                texts.append(f"{counter} {kind} {sid} {value} {key}")
            elif value != 1:
                texts.append(f"{counter} {kind} {sid} {value}")
            else:
                texts.append(f"{counter} {kind} {sid}")
            span = spans.get((kind, sid))
            if span is None:
                spans[(kind, sid)] = [iso, iso]
            elif iso > span[1]:
                span[1] = iso
            elif iso < span[0]:
                span[0] = iso
        parts.append(f"{iso}{DAY_MARK}{ENTRIES.join(texts)}")
    return DAYS.join(parts), spans


def _day_spans(spans: dict[tuple[str, int], list[str]]) -> dict[tuple[str, int], tuple[dt.date, dt.date]]:
    return {pair: (dt.date.fromisoformat(first), dt.date.fromisoformat(last)) for pair, (first, last) in spans.items()}


def _flat(by_day: ByDay) -> Stored:
    return {
        (counter, day, kind, sid, key): value
        for day, held in by_day.items()
        for (counter, kind, sid, key), value in held.items()
    }


def entries_of(text: str | None) -> Iterator[tuple[str, str, str, int, int, int]]:
    """The entries of a stored form: (counter, "YYYY-MM-DD", subject kind, id, key, value)."""
    if not text:
        return
    for part in text.split(DAYS):
        day, _mark, held = part.partition(DAY_MARK)
        for entry in held.split(ENTRIES):
            counter, kind, sid, *rest = entry.split(FIELDS)
            value = int(rest[0]) if rest else 1
            key = int(rest[1]) if len(rest) > 1 else 0
            yield counter, day, kind, int(sid), key, value


def _from_text(text: str | None) -> Stored:
    days: dict[str, dt.date] = {}
    out: Stored = {}
    for counter, day, kind, sid, key, value in entries_of(text):
        date = days.get(day)
        if date is None:
            date = days[day] = dt.date.fromisoformat(day)
        out[(counter, date, kind, sid, key)] = value
    return out


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
    by_day = contributions_by_day(case, events, tz=_tz(), unit_ids=unit_ids)
    text, spans = stored(by_day)
    if text == before:  # the same text, not only the same entries: what a rebuild writes
        return
    old = _from_text(before)
    deltas = _row_deltas(old, -1, _row_deltas(_flat(by_day)))
    _apply({k: v for k, v in deltas.items() if v})
    _store_contribution(case_id, text)
    _store_subjects(case_id, subject_days(old), _day_spans(spans))


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


def _store_contribution(case_id: int, text: str) -> None:
    table = connection.ops.quote_name(CaseContribution._meta.db_table)
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({q('case_id')}, {q('contributions')}) VALUES (%s, %s) "
            f"ON CONFLICT ({q('case_id')}) DO UPDATE SET {q('contributions')} = excluded.{q('contributions')}",
            [case_id, text],
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


_CASE_SQL = "SELECT id, source, area_id, category_id, reporter_id, assignee_id FROM {table} WHERE {where} ORDER BY id"


def _histories(
    cursor_for, key_problems: set[int], batch: int, cases: tuple[int, int] | None = None
) -> Iterator[tuple[int, CaseFacts, list[EventFacts]]]:
    """Every case (or those with ids in ``cases``, start included, end not) with its events,
    both streamed in case order through ``cursor_for()`` (a server-side cursor on
    PostgreSQL): plain rows, no model instances."""
    where, params = "1 = 1", []
    if cases is not None:
        where, params = "{column} >= %s AND {column} < %s", list(cases)
    table = connection.ops.quote_name(Case._meta.db_table)

    def stream(sql: str, parameters: list) -> Iterator[Sequence]:
        with cursor_for() as cursor:
            cursor.execute(sql, parameters)
            while chunk := cursor.fetchmany(batch):
                yield from chunk

    events = stream(_event_sql(where.format(column="e.case_id"), "e.case_id, e.seq"), params)
    pending = next(events, None)
    for case_id, source, grid_id, category_id, reporter_id, assignee_id in stream(
        _CASE_SQL.format(table=table, where=where.format(column="id")), params
    ):
        while pending is not None and pending[0] < case_id:  # events of a case that is gone: none expected
            pending = next(events, None)
        history = []
        while pending is not None and pending[0] == case_id:
            history.append(_event(pending))
            pending = next(events, None)
        facts = _facts(source, grid_id, category_id, reporter_id, assignee_id, key_problem=category_id in key_problems)
        yield case_id, facts, history


def _counter_line(row) -> str:
    grain, period, counter, kind, sid, key, value = row  # names of this module: nothing to escape
    return f"{grain}\t{period.isoformat()}\t{counter}\t{kind}\t{sid}\t{key}\t{value}"


COUNTER_COLUMNS = [*ROW_KEY, "value"]
SUBJECT_COLUMNS = ["case_id", "subject_kind", "subject_id", "first_day", "last_day"]
CONTRIBUTION_COLUMNS = ["case_id", "contributions"]
# The three tables a rebuild fills, with the columns of its COPY lines (tab-separated;
# names of this module, numbers, ISO days and the stored form: nothing to escape).
_TABLES = {
    "counter": (EvaluationCounter, COUNTER_COLUMNS),
    "subject": (CaseSubject, SUBJECT_COLUMNS),
    "contribution": (CaseContribution, CONTRIBUTION_COLUMNS),
}


def _copy_sql(name: str) -> str:
    model, columns = _TABLES[name]
    names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
    return f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"


def _write(name: str, lines: list[str]) -> int:
    """Insert COPY ``lines`` into one of the three tables: on PostgreSQL as one COPY
    (psycopg's write_row costs microseconds a row, and a year's rebuild writes tens of
    millions), on SQLite split into values for ``executemany`` (its integer columns take
    the digits as numbers, and it stores days as this text)."""
    if not lines:
        return 0
    model, columns = _TABLES[name]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.cursor.copy(_copy_sql(name)) as copy:
            copy.write("\n".join(lines) + "\n")
        return len(lines)
    return insert_rows(model, columns, [line.split("\t") for line in lines], batch=len(lines))


class _Totals:
    """The counter rows of a rebuild, summed in memory only while they can still change.

    Cases come in id order, which is the order they were reported in, and nothing a case
    contributes is dated before its report. So once a case reported on day D is read, the
    rows of days before D − 1 (one day of slack for ids and report times that disagree
    around midnight) are final: they are taken out as COPY lines and dropped. Memory holds
    the days still open (a few weeks: cases open that long), not the year. A case that
    contributes to a day already taken out (an imported case with an old report time and a
    new id) is not lost: its amounts are kept apart in ``late`` and added to the written
    rows at the end, as are the rows of days this process does not own (``_Share``)."""

    SLACK = dt.timedelta(days=1)

    def __init__(self, owns: tuple[dt.date, dt.date] = (dt.date.min, dt.date.max)) -> None:
        self.owns = owns
        self.days: ByDay = {}
        self.months: ByDay = {}
        self.late: Counter = Counter()
        self.days_before = dt.date.min  # days before this one are taken out
        self.months_before = dt.date.min

    def add(self, by_day: ByDay) -> None:
        """A case's contributions: into its days (months are summed from the days as they
        are taken out) or, for a day already taken out, into the late rows."""
        days = self.days
        for day, entries in by_day.items():
            held = days.get(day)
            if held is None:
                if day < self.days_before:
                    self._add_late(day, entries)
                else:
                    days[day] = entries  # the case's own: nothing reads it after
                continue
            for entry, value in entries.items():
                held[entry] = held.get(entry, 0) + value

    def _add_late(self, day: dt.date, entries: dict[Entry, int]) -> None:
        month = day.replace(day=1)
        into = None
        if month >= self.months_before:
            into = self.months.get(month)
            if into is None:
                into = self.months[month] = {}
        for entry, value in entries.items():
            self.late[(DAY, day, *entry)] += value
            if into is not None:
                into[entry] = into.get(entry, 0) + value
            else:
                self.late[(MONTH, month, *entry)] += value

    def _out(self, grain: str, period: dt.date, held: dict[Entry, int], lines: list[str]) -> None:
        if self.owns[0] <= period < self.owns[1]:
            iso = period.isoformat()
            lines += [
                f"{grain}\t{iso}\t{counter}\t{kind}\t{sid}\t{key}\t{value}"
                for (counter, kind, sid, key), value in held.items()
                if value
            ]
        else:  # another process's day: added to its rows at the end
            late = self.late
            for (counter, kind, sid, key), value in held.items():
                if value:
                    late[(grain, period, counter, kind, sid, key)] += value

    def final(self, reported: dt.date | None) -> list[str]:
        """Take out, as COPY lines, the rows no later case can change, given the report day
        of the case just read (``None``: the end, every row)."""
        if reported is None:
            days_before = months_before = dt.date.max
        else:
            days_before = reported - self.SLACK
            if days_before <= self.days_before:
                return []  # the usual case: the same day as the case before
            months_before = days_before.replace(day=1)
        self.days_before, self.months_before = days_before, max(self.months_before, months_before)
        lines: list[str] = []  # in no particular order: the indexes are built after
        for day in sorted(d for d in self.days if d < days_before):
            held = self.days.pop(day)
            self._out(DAY, day, held, lines)
            month = day.replace(day=1)
            into = self.months.get(month)
            if into is None:
                self.months[month] = held  # taken out already: the month may keep it
                continue
            for entry, value in held.items():
                into[entry] = into.get(entry, 0) + value
        for month in sorted(m for m in self.months if m < self.months_before):
            self._out(MONTH, month, self.months.pop(month), lines)
        return lines


def _add_late(late: dict[RowKey, int]) -> None:
    """Add the late rows of a rebuild to the written ones: on PostgreSQL, when there are
    many (shares split mid-month), through one COPY into a temporary table and one upsert
    instead of ``_apply``'s statements of 500."""
    if connection.vendor != "postgresql" or len(late) < 10 * UPSERT_BATCH:
        _apply(late)
        return
    q = connection.ops.quote_name
    table = q(EvaluationCounter._meta.db_table)
    columns = ", ".join(q(c) for c in COUNTER_COLUMNS)
    keys = ", ".join(q(c) for c in ROW_KEY)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE evaluation_late ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY evaluation_late ({columns}) FROM STDIN") as copy:
            copy.write("\n".join(_counter_line((*key, value)) for key, value in sorted(late.items())) + "\n")
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM evaluation_late ORDER BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {q('value')} = {table}.{q('value')} + excluded.{q('value')}"
        )
        matches = " AND ".join(f"c.{q(c)} = l.{q(c)}" for c in ROW_KEY)
        cursor.execute(f"DELETE FROM {table} c USING evaluation_late l WHERE c.{q('value')} = 0 AND {matches}")
        cursor.execute("DROP TABLE evaluation_late")


class _Share(NamedTuple):
    """The part of a rebuild one process computes: the cases with ids in ``cases`` (start
    included, end not; ``None``: all), and the days whose counter rows it writes itself,
    ``owns[0] <= day < owns[1]`` (a month row by its first day). Every other row it
    computes (a case of its share counting on another share's day) is summed by whoever
    runs the rebuild and added to the written rows at the end, like ``_Totals.late``: no
    row is written twice, whatever the dates of the cases."""

    cases: tuple[int, int] | None = None
    owns: tuple[dt.date, dt.date] = (dt.date.min, dt.date.max)


def _compute(share: _Share, histories, emit, *, unit_ids: dict[str, int], batch: int) -> tuple[Counter, dict]:
    """Run the rules over ``histories`` and hand the COPY lines of the three tables to
    ``emit(table, lines)`` a batch at a time; return the rows to add at the end (``late``)
    and what was done."""
    tz = _tz()
    totals = _Totals(share.owns)
    stats = {"cases": 0, "events": 0, "rows": 0}
    contributed: list[str] = []
    subjects: list[str] = []
    rows: list[str] = []

    def flush() -> None:
        emit("contribution", contributed)
        emit("subject", subjects)
        emit("counter", rows)
        stats["rows"] += len(rows)
        contributed.clear(), subjects.clear(), rows.clear()

    for case_id, facts, history in histories:
        by_day = contributions_by_day(facts, history, tz=tz, unit_ids=unit_ids)
        text, spans = stored(by_day)
        totals.add(by_day)  # last: the totals keep its days' dicts and add later cases to them
        stats["cases"] += 1
        stats["events"] += len(history)
        contributed.append(f"{case_id}\t{text}")
        subjects += [f"{case_id}\t{kind}\t{sid}\t{first}\t{last}" for (kind, sid), (first, last) in spans.items()]
        if history:
            rows += totals.final(history[0].at.astimezone(tz).date())
        if len(contributed) >= batch:
            flush()
    rows += totals.final(None)
    flush()
    return totals.late, stats


# ---------------------------------------------------------------- rebuild in several processes

PARALLEL_FROM = 50_000  # cases: below this, starting processes costs more than it saves


def _shares(processes: int) -> list[_Share]:
    """Split the cases into ``processes`` runs of ids of about equal size, each owning the
    days from its first case's report day. A run starts at the first case reported in a
    month where it can (the rows a run does not own are then only those of cases open
    across the month's end), else at the case in the middle."""
    tz = _tz()
    ids = Case.objects.order_by("id").values_list("id", flat=True)
    total = ids.count()
    bounds: list[tuple[int, dt.date]] = [(ids.first() or 0, dt.date.min)]  # no share may be empty
    for part in range(1, processes):
        near = list(ids[total * part // processes :][:1])
        if not near:
            continue
        day = Case.objects.filter(pk=near[0]).values_list("reported_at", flat=True).get().astimezone(tz).date()
        month = day.replace(day=1)
        first = ids.filter(reported_at__gte=dt.datetime.combine(month, dt.time(), tz)).first()
        start = (first, month) if first is not None and first > bounds[-1][0] and month > bounds[-1][1] else None
        if start is None and near[0] > bounds[-1][0] and day > bounds[-1][1]:
            start = (near[0], day)
        if start is not None:
            bounds.append(start)
    bounds.append((2**62, dt.date.max))
    return [_Share((lo, hi), (first, until)) for (lo, first), (hi, until) in itertools.pairwise(bounds)]


def _worker(share: _Share, job: dict, pipe) -> None:
    """One process's share (forked): its own connection, reading the rebuilding
    transaction's snapshot, sending COPY text to the parent. ``job``: the snapshot id, the
    connection's parameters, the unit and key-problem maps and the batch size."""
    import psycopg  # here only: the parent's connection is Django's

    snapshot, params, batch = job["snapshot"], job["params"], job["batch"]
    unit_ids, key_problems = job["unit_ids"], job["key_problems"]

    try:
        with psycopg.connect(**params, autocommit=False) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # an id pg_export_snapshot gave
            names = iter(range(1 << 30))

            def cursor_for():  # binary: numbers come as they are stored, not as text to parse
                return conn.cursor(name=f"rebuild_{next(names)}", binary=True)

            def emit(name: str, lines: list[str]) -> None:
                if lines:
                    pipe.send(("rows", name, ("\n".join(lines) + "\n").encode()))

            histories = _histories(cursor_for, key_problems, batch, share.cases)
            late, stats = _compute(share, histories, emit, unit_ids=unit_ids, batch=batch)
        pipe.send(("done", dict(late), stats))
    except BaseException:  # the parent raises it, with this traceback
        pipe.send(("failed", traceback.format_exc()))
    finally:
        pipe.close()


def _compute_in_processes(shares: list[_Share], unit_ids, key_problems, batch: int) -> tuple[Counter, dict]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
    job = {
        "snapshot": snapshot,
        "params": connection.get_connection_params(),
        "unit_ids": unit_ids,
        "key_problems": key_problems,
        "batch": batch,
    }
    context = multiprocessing.get_context("fork")  # the children inherit the rules and the maps
    pipes, processes = [], []
    for share in shares:
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_worker, args=(share, job, send), daemon=True)
        process.start()
        send.close()
        pipes.append(receive)
        processes.append(process)
    late: Counter = Counter()
    stats: Counter = Counter()
    copies = {name: _copy_sql(name) for name in _TABLES}
    try:
        with connection.cursor() as cursor:
            while pipes:
                for pipe in multiprocessing.connection.wait(pipes):
                    try:
                        message = pipe.recv()
                    except EOFError:
                        raise RuntimeError("a rebuild process ended without finishing its share") from None
                    if message[0] == "rows":
                        with cursor.cursor.copy(copies[message[1]]) as copy:
                            copy.write(message[2])
                        continue
                    pipes.remove(pipe)
                    if message[0] == "failed":
                        raise RuntimeError(f"a rebuild process failed:\n{message[1]}")
                    late.update(message[1])
                    stats.update(message[2])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
    return late, dict(stats)


def rebuild(*, batch: int = 5000, processes: int | None = None) -> dict[str, int | float]:
    """Recompute every counter and every case's contribution from the event log and
    replace the three tables' contents in one transaction; return what was done.

    On PostgreSQL with many cases the rules run in ``processes`` processes (default: one per
    core from ``PARALLEL_FROM`` cases), each reading its share of the cases through the
    rebuilding transaction's snapshot; this process writes what they compute."""
    started = time.perf_counter()
    unit_ids = dict(Unit.objects.values_list("code", "id"))
    key_problems = set(Category.objects.filter(key_problem=True).values_list("id", flat=True))
    pg = connection.vendor == "postgresql"
    if processes is None:
        processes = (os.cpu_count() or 1) if pg and Case.objects.count() >= PARALLEL_FROM else 1
    # Other processes see only committed rows: inside a caller's transaction (the demo's
    # load, a test) the cases it wrote are not theirs to read, so the rules run here.
    processes = processes if pg and not connection.in_atomic_block else 1
    models = (EvaluationCounter, CaseContribution, CaseSubject)
    with transaction.atomic():
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
        with indexes_deferred(*models):
            shares = _shares(processes) if processes > 1 else [_Share()]
            if len(shares) > 1:
                late, stats = _compute_in_processes(shares, unit_ids, key_problems, batch)
            else:
                # One connection: each batch is written between two fetches of the streams
                # (a COPY cannot run while a server-side cursor is being fetched from).
                histories = _histories(connection.chunked_cursor, key_problems, batch)
                late, stats = _compute(shares[0], histories, _write, unit_ids=unit_ids, batch=batch)
            computed = time.perf_counter()
        indexed = time.perf_counter()
        late = {key: value for key, value in late.items() if value}
        _add_late(late)  # after the indexes are back: it needs the unique one
    done = time.perf_counter()
    summary = {
        **stats,
        "late_rows": len(late),
        "processes": len(shares),
        "seconds": round(done - started, 2),
        "rows_seconds": round(computed - started, 2),  # reading, computing and writing the rows
        "index_seconds": round(indexed - computed, 2),  # building the indexes again
        "commit_seconds": round(done - indexed, 2),  # the late rows and the commit
    }
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
    """Sums over the inclusive day range, by (counter, subject kind, subject id, key).

    One statement, read with a plain cursor (an evaluation of every grid reads some 60,000
    rows a month). A single whole month is one row per key already (the unique constraint), so
    it is read without grouping."""
    months, day_ranges = _months(period_start, period_end)
    names = None if counters is None else list(counters)
    if not (months or day_ranges) or names == []:
        return {}
    q = connection.ops.quote_name
    adapt = connection.ops.adapt_datefield_value
    when, params = [], []
    if months:
        when.append(f"({q('grain')} = %s AND {q('period_start')} IN ({', '.join(['%s'] * len(months))}))")
        params += [MONTH, *(adapt(m) for m in months)]
    for first, last in day_ranges:
        when.append(f"({q('grain')} = %s AND {q('period_start')} >= %s AND {q('period_start')} <= %s)")
        params += [DAY, adapt(first), adapt(last)]
    where = f"({' OR '.join(when)})"
    if names is not None:
        where += f" AND {q('counter')} IN ({', '.join(['%s'] * len(names))})"
        params += names
    if subject_kind is not None:
        where += f" AND {q('subject_kind')} = %s"
        params.append(subject_kind)
    keys = ", ".join(q(c) for c in ("counter", "subject_kind", "subject_id", "key"))
    table = q(EvaluationCounter._meta.db_table)
    if len(months) == 1 and not day_ranges:
        sql = f"SELECT {keys}, {q('value')} FROM {table} WHERE {where}"
    else:
        sql = f"SELECT {keys}, CAST(SUM({q('value')}) AS BIGINT) FROM {table} WHERE {where} GROUP BY {keys}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(c, k, s, key): total for c, k, s, key, total in cursor.fetchall() if total}


def rows() -> list[tuple]:
    """Every counter row as a sorted list of tuples (for checks and tests)."""
    return sorted(EvaluationCounter.objects.values_list(*ROW_KEY, "value"))


def subject_rows() -> list[tuple]:
    """Every CaseSubject row as a sorted list of tuples (for checks and tests)."""
    return sorted(CaseSubject.objects.values_list("case_id", "subject_kind", "subject_id", "first_day", "last_day"))
