"""综合评价 at Kunming scale (also run by ``make bench``):
``python bench/evaluation.py [--months 12] [--per-month 208000] [--db sqlite|postgres|both]``.

The issue's targets, on 2 cores: a month's full evaluation of a city with ~200,000 cases
a month, 3,000 grids, 150 units and 400 inspectors in ≤ 1 s; a rebuild of the counters
from one year of history (2.5 M cases) in ≤ 5 minutes; each next to the naive query over
the raw events, in the same run.

Each database starts empty (SQLite in a temporary ``CITYKEEPER_VAR``, PostgreSQL in
``citykeeper_bench_evaluation``, dropped and created) and goes through three processes:

1. **load**: migrate; the demo city's base data (3,260 unit grids, the codebook, the
   demo's staff) with no history; units up to 150 and inspectors up to 400 (each with a
   community as patrol area), some more operators, shift leads and dispatchers; then
   ``--months`` whole months of synthetic cases ending with last month, each with its whole
   event log (COPY on PostgreSQL, ``executemany`` on SQLite, one transaction): report,
   verification for public reports, acceptance, filing, dispatch, disposal, check, closing,
   with the stage outcomes the services record (mostly on time, some late after a
   ``deadline_overdue`` event), and returns, extensions, rework, urges, voids, rejections
   and self-disposals at plausible rates. The counters are not kept while loading.
2. **rebuild**: ``citykeeper evaluate --rebuild`` (``services.counters.rebuild``) over the
   whole log, with the process's peak memory.
3. **evaluate**: every default scheme for last month, as the console runs it (with and
   without 环比/同比); the naive queries over the raw events for the same month and for
   the whole period; and a check that the counters equal the raw events where a naive
   query can count exactly (dispatches per unit, reports per grid, on-time disposals).

The "## 综合评价" section of docs/benchmarks.md is written for a full run (``--months 12``
and at least 200,000 cases a month) or with ``--write``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"
PG_BENCH_DB = "citykeeper_bench_evaluation"
SHANGHAI = ZoneInfo("Asia/Shanghai")
UNITS, INSPECTORS = 150, 400
OPERATORS, SHIFT_LEADS, DISPATCHERS = 30, 8, 12
FULL_MONTHS, FULL_PER_MONTH = 12, 200_000
MONTH_TARGET_S, REBUILD_TARGET_S = 1.0, 300.0

# Stage limits in seconds (wall time: the synthetic clock does not skip nights).
LIMITS = {"accept": 900, "verify": 3600, "file": 900, "dispatch": 900, "check": 3600, "close": 900}
DISPOSE_LIMITS = (2 * 3600, 4 * 3600, 8 * 3600, 3 * 86400, 5 * 86400)
STAGE_OF = {
    "reported": "accept",
    "verifying": "verify",
    "verified": "accept",
    "self_disposed": "close",
    "accepted": "file",
    "filed": "dispatch",
    "dispatched": "dispose",
    "disposed": "check",
    "checking": "check",
    "check_failed": "close",
    "checked": "close",
    "return_requested": "dispose",
    "extension_requested": "dispose",
}
FIRST_HAND = {"inspector", "leader", "camera"}
SOURCES = ("inspector",) * 12 + ("hotline",) * 4 + ("citizen", "citizen", "web", "open311", "camera", "leader")
# How often the side roads of the lifecycle are taken (share of the cases that reach them).
RATES = {
    "late": {"accept": 0.02, "verify": 0.06, "file": 0.03, "dispatch": 0.03, "dispose": 0.08, "check": 0.05},
    "self_dispose": 0.04,
    "reject": 0.06,
    "void": 0.02,
    "return": 0.04,
    "extension": 0.05,
    "urge": 0.03,
    "check_fail": 0.06,
}


# ------------------------------------------------------------------ staff and units


def _staff(rng: random.Random) -> dict:
    """Units up to ``UNITS``, inspectors up to ``INSPECTORS`` with a community each as
    patrol area, and some more centre staff; returns who is who."""
    from citykeeper.store.models import Area, RoleGrant, Unit, User

    demo_units = list(Unit.objects.filter(active=True).values_list("kind", "level", "evaluation_group", "area_id"))
    have = Unit.objects.count()
    Unit.objects.bulk_create(
        Unit(
            code=f"BENCH{i:03d}",
            name=f"测试处置单位{i:03d}",
            kind=demo_units[i % len(demo_units)][0],
            level=demo_units[i % len(demo_units)][1],
            evaluation_group=demo_units[i % len(demo_units)][2],
            area_id=demo_units[i % len(demo_units)][3],
        )
        for i in range(max(UNITS - have, 0))
    )
    communities = list(Area.objects.filter(level="community").order_by("id").values_list("id", flat=True))
    wanted = {"inspector": INSPECTORS, "operator": OPERATORS, "shift_lead": SHIFT_LEADS, "dispatcher": DISPATCHERS}
    for role, total in wanted.items():
        have = RoleGrant.objects.filter(role=role).count()
        users = User.objects.bulk_create(
            User(
                username=f"bench_{role}_{i:03d}",
                display_name=f"{role}{i:03d}",
                password="!",  # unusable: nobody logs in as them
                scope_area_id=communities[i % len(communities)] if role == "inspector" else None,
            )
            for i in range(max(total - have, 0))
        )
        RoleGrant.objects.bulk_create(RoleGrant(user=u, role=role) for u in users)
    people = {
        role: list(RoleGrant.objects.filter(role=role).order_by("user_id").values_list("user_id", flat=True))
        for role in wanted
    }
    patrol: dict[str, list[int]] = {}
    for user_id, path in RoleGrant.objects.filter(role="inspector", user__scope_area__isnull=False).values_list(
        "user_id", "user__scope_area__path"
    ):
        patrol.setdefault(path, []).append(user_id)
    people["patrol"] = patrol
    people["units"] = list(Unit.objects.filter(active=True).values_list("id", "code"))
    rng.shuffle(people["units"])
    return people


# ------------------------------------------------------------------ one case's life


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))


class Life:
    """Builds one case's events as (kind, at, actor, role, from, to, deadline, outcome, data)."""

    def __init__(self, rng: random.Random, people: dict, grid_inspectors: list[int]):
        self.rng, self.people, self.grid_inspectors = rng, people, grid_inspectors
        self.events: list[tuple] = []
        self.state = ""
        self.stage_started = 0.0
        self.limit = 0
        self.extended = 0
        self.t = 0.0
        self.unit: tuple[int, str] | None = None
        self.assignee: int | None = None

    def _pick(self, role: str) -> int:
        staff = self.people[role]
        return staff[self.rng.randrange(len(staff))]

    def _inspector(self) -> int:
        pool = self.grid_inspectors or self.people["inspector"]
        return pool[self.rng.randrange(len(pool))]

    def _deadline(self) -> float | None:
        return self.stage_started + self.limit + self.extended if self.limit else None

    def _start(self, state: str) -> None:
        stage = STAGE_OF.get(state)
        self.stage_started, self.extended = self.t, 0
        if stage is None:
            self.limit = 0
        elif stage == "dispose":
            self.limit = DISPOSE_LIMITS[self.rng.randrange(len(DISPOSE_LIMITS))]
        else:
            self.limit = LIMITS[stage]

    def _wait(self) -> None:
        """Let time pass in the running stage: mostly within its limit, sometimes past it
        (the ticker's overdue event comes at the deadline)."""
        stage = STAGE_OF.get(self.state)
        deadline = self._deadline()
        if deadline is None:
            self.t += self.rng.uniform(60, 600)
            return
        if self.rng.random() < RATES["late"][stage if stage != "close" else "accept"]:
            self.t = deadline
            self.event("deadline_overdue", None, "", self.state)
            self.t = deadline + self.rng.uniform(600, 2 * 86400)
        else:
            self.t = self.stage_started + self.limit * self.rng.uniform(0.05, 0.95) + self.extended

    def event(self, kind: str, actor: int | None, role: str, to: str, *, ends: bool = False, data=None) -> None:
        outcome = None
        if ends and self.limit:
            deadline = self._deadline()
            used = round(self.t - self.stage_started)
            outcome = (
                f'{{"stage": "{STAGE_OF.get(self.state, "")}", "started_at": "{_iso(self.stage_started)}", '
                f'"deadline_at": "{_iso(deadline)}", "ended_at": "{_iso(self.t)}", '
                f'"on_time": {"true" if self.t <= deadline else "false"}, "used_seconds": {used}, '
                f'"limit_seconds": {self.limit + self.extended}}}'
            )
        before = self.state
        if to != before or ends:
            self.state = to
            if ends:
                self._start(to)
        self.events.append((kind, self.t, actor, role, before, to, self._deadline(), outcome, data))

    def move(self, kind: str, actor: int | None, role: str, to: str, *, data=None) -> None:
        self._wait()
        self.event(kind, actor, role, to, ends=True, data=data)

    def dispatch(self) -> None:
        self.unit = self.people["units"][self.rng.randrange(len(self.people["units"]))]
        unit = f'{{"unit": "{self.unit[1]}"}}'
        self.move("dispatch", self._pick("dispatcher"), "dispatcher", "dispatched", data=unit)

    def quick(self, kind: str, actor: int | None, role: str, to: str, data=None) -> None:
        """A move that does not end the stage (a request, an urge): a little later."""
        self.t += self.rng.uniform(60, 3600)
        self.event(kind, actor, role, to, data=data)

    def live(self, source: str, reporter: int | None, reported: float) -> list[tuple]:
        rng, r = self.rng, RATES
        self.t = reported
        self.event("report", reporter, "inspector" if source == "inspector" else "citizen", "reported")
        self._start("reported")
        self.events[-1] = (*self.events[-1][:6], self._deadline(), None, None)
        operator = self._pick("operator")
        if source == "inspector" and rng.random() < r["self_dispose"]:
            self.move("self_dispose", reporter, "inspector", "self_disposed")
            self.move("close", self._pick("shift_lead"), "shift_lead", "closed")
            return self.events
        if source not in FIRST_HAND:
            self.assignee = self._inspector()
            self.move("send_verify", operator, "operator", "verifying")
            self.move("verify", self.assignee, "inspector", "verified", data='{"found": true}')
            if rng.random() < r["reject"]:
                self.move("reject", operator, "operator", "rejected")
                return self.events
        self.move("accept", operator, "operator", "accepted")
        lead = self._pick("shift_lead")
        if rng.random() < r["void"]:
            self.move("void", lead, "shift_lead", "voided")
            return self.events
        self.move("file", lead, "shift_lead", "filed")
        self.dispatch()
        if rng.random() < r["return"]:
            self.quick("request_return", None, "unit_handler", "return_requested")
            self.move("approve_return", self._pick("dispatcher"), "dispatcher", "filed")
            self.dispatch()
        if rng.random() < r["urge"]:
            self.quick("urge", self._pick("shift_lead"), "leader", "dispatched")
        if rng.random() < r["extension"]:
            self.quick("request_extension", None, "unit_handler", "extension_requested")
            self.extended += 86400
            self.quick("approve_extension", self._pick("dispatcher"), "dispatcher", "dispatched")
        for _round in range(2):
            self.move("dispose", None, "unit_handler", "disposed")
            self.assignee = self._inspector()
            self.move("send_check", operator, "operator", "checking")
            if _round == 0 and rng.random() < r["check_fail"]:
                self.move("check_fail", self.assignee, "inspector", "check_failed")
                self.move("rework", lead, "shift_lead", "dispatched")
                continue
            self.move("check_pass", self.assignee, "inspector", "checked")
            break
        self.move("close", lead, "shift_lead", "closed")
        return self.events


# ------------------------------------------------------------------ writing


class Writer:
    """Rows into a table: COPY on PostgreSQL, ``executemany`` on SQLite; values given as the
    database reads them in text (timestamps in UTC, JSON already serialised)."""

    def __init__(self, model, columns: list[str], batch: int = 20_000):
        from django.db import connection

        self.connection = connection
        self.pg = connection.vendor == "postgresql"
        q = connection.ops.quote_name
        self.names = ", ".join(q(model._meta.get_field(c).column) for c in columns)
        self.table = q(model._meta.db_table)
        self.sql = f"INSERT INTO {self.table} ({self.names}) VALUES ({', '.join(['%s'] * len(columns))})"
        self.batch, self.rows, self.written = batch, [], 0

    def stamp(self, ts: float | None) -> str | None:
        if ts is None:
            return None
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))
        return text + "+00" if self.pg else text

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        with self.connection.cursor() as cursor:
            if self.pg:
                with cursor.cursor.copy(f"COPY {self.table} ({self.names}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, self.rows)
        self.written += len(self.rows)
        self.rows = []


def generate(months: int, per_month: int, *, now: dt.datetime, seed: int = 20261121) -> dict:
    """``months`` whole months of cases ending with the month before ``now``'s, each with
    its event log; one transaction. Returns counts and time."""
    sys.path.insert(0, str(ROOT / "bench"))
    from console import _base
    from django.db import transaction

    from citykeeper.store.models import Case, CaseEvent

    started = time.perf_counter()
    rng = random.Random(seed)
    people = _staff(rng)
    base = _base()
    leaves, categories = base["leaves"], base["categories"]
    grid_inspectors = []
    for _id, path, *_rest in leaves:
        found: list[int] = []
        for prefix, users in people["patrol"].items():
            if path.startswith(prefix):
                found += users
        grid_inspectors.append(found)

    local_now = now.astimezone(SHANGHAI)
    first_of_this_month = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = first_of_this_month.year, first_of_this_month.month - months
    while month < 1:
        year, month = year - 1, month + 12
    window_start = first_of_this_month.replace(year=year, month=month)
    start_ts, end_ts, now_ts = window_start.timestamp(), first_of_this_month.timestamp(), now.timestamp()
    total = months * per_month
    times = sorted(rng.uniform(start_ts, end_ts) for _ in range(total))

    case_columns = [f.attname for f in Case._meta.concrete_fields]
    event_columns = [f.attname for f in CaseEvent._meta.concrete_fields if not f.primary_key]
    first_id = (Case.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    index = {name: i for i, name in enumerate(case_columns)}
    template = [None] * len(case_columns)
    for name, value in {
        "city_code": "320300",
        "version": 1,
        "source_detail": "",
        "reporter_phone": "",
        "routing_step": "",
        "stage": "",
        "stage_around_the_clock": False,
        "stage_warned": False,
        "stage_overdue": False,
        "chain_seq": 0,
        "chain_head": "",
        "rework_count": 0,
        "return_count": 0,
        "extension_count": 0,
        "suspension_count": 0,
        "urge_count": 0,
        "urgent": False,
        "reporter_name": "",
        "description": "",
        "address": "",
    }.items():
        template[index[name]] = value
    cases_out = Writer(Case, case_columns)
    events_out = Writer(CaseEvent, event_columns)
    stamp = events_out.stamp
    day_seq: dict[str, int] = {}
    n_events = 0
    with transaction.atomic():
        for case_id, reported in enumerate(times, start=first_id):
            leaf = rng.randrange(len(leaves))
            area_id, path, area_class, lon, lat = leaves[leaf]
            category_id, category_name = categories[rng.randrange(len(categories))]
            source = SOURCES[rng.randrange(len(SOURCES))]
            inspectors = grid_inspectors[leaf]
            reporter = None
            if source == "inspector":
                pool = inspectors or people["inspector"]
                reporter = pool[rng.randrange(len(pool))]
            life = Life(rng, people, inspectors)
            events = [e for e in life.live(source, reporter, reported) if e[1] <= now_ts]
            day = time.strftime("%Y%m%d", time.gmtime(reported + 8 * 3600))
            seq = day_seq.get(day, 0) + 1
            day_seq[day] = seq
            row = template.copy()
            last = events[-1]
            row[index["id"]] = case_id
            row[index["number"]] = f"{day}{seq:05d}"
            row[index["state"]] = last[5]
            row[index["source"]] = source
            row[index["category_id"]] = category_id
            row[index["description"]] = f"{category_name}（基准测试）"
            row[index["address"]] = path
            row[index["lon"]], row[index["lat"]] = lon, lat
            row[index["area_id"]] = area_id
            row[index["area_path"]] = path
            row[index["area_class"]] = area_class or ""
            row[index["reporter_id"]] = reporter
            row[index["assignee_id"]] = life.assignee
            row[index["reported_at"]] = stamp(reported)
            row[index["updated_at"]] = stamp(last[1])
            row[index["version"]] = len(events)
            if life.unit is not None:
                row[index["unit_id"]] = life.unit[0]
            if last[5] in ("closed", "rejected", "voided"):
                row[index["closed_at"]] = stamp(last[1])
            cases_out.add(tuple(row))
            for seq_no, (kind, at, actor, role, before, to, deadline, outcome, data) in enumerate(events, start=1):
                digest = f"{case_id:032x}{seq_no:032x}"
                events_out.add(
                    (
                        case_id,
                        seq_no,
                        kind,
                        stamp(at),
                        actor,
                        "",
                        role,
                        before,
                        to,
                        STAGE_OF.get(to, ""),
                        stamp(deadline),
                        outcome,
                        "",
                        data or "{}",
                        "[]",
                        digest,
                        digest,
                    )
                )
            n_events += len(events)
            if (case_id - first_id + 1) % 250_000 == 0:
                print(f"  {case_id:,} cases, {n_events:,} events", file=sys.stderr, flush=True)
        cases_out.flush()
        events_out.flush()
        _reset_sequences()
    return {"cases": total, "events": n_events, "seconds": round(time.perf_counter() - started, 1)}


def _reset_sequences() -> None:
    """Case ids were given explicitly; PostgreSQL's sequence must move past them."""
    from django.core.management.color import no_style
    from django.db import connection

    from citykeeper.store.models import Case

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Case]):
            cursor.execute(sql)


# ------------------------------------------------------------------ the naive queries


def _on_time_sql() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return "CASE WHEN e.outcome ->> 'on_time' = 'true' THEN 1 ELSE 0 END"
    return "CASE WHEN json_extract(e.outcome, '$.on_time') = 1 THEN 1 ELSE 0 END"


def _bounds(first: dt.date, last: dt.date) -> list:
    """The local days ``first``..``last`` as UTC instants the driver takes."""
    from django.db import connection

    start = dt.datetime.combine(first, dt.time(), SHANGHAI)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI)
    return [connection.ops.adapt_datetimefield_value(v) for v in (start, end)]


NAIVE = {
    # What an evaluation without counters reads at the least: the period's events grouped
    # by whom they count for (the case's unit and grid, the actor) and kind, with on-time
    # sums. Not yet the stage instances, the returned dispatches or the standing closings,
    # which need each case's history in order: a lower bound for the naive way.
    "units": "SELECT c.unit_id, e.kind, SUM({on_time}), COUNT(*) FROM {event} e JOIN {case} c ON c.id = e.case_id "
    "WHERE e.at >= %s AND e.at < %s GROUP BY c.unit_id, e.kind",
    "regions (grids)": "SELECT c.area_id, e.kind, SUM({on_time}), COUNT(*) FROM {event} e "
    "JOIN {case} c ON c.id = e.case_id WHERE e.at >= %s AND e.at < %s GROUP BY c.area_id, e.kind",
    "posts": "SELECT e.actor_id, e.kind, SUM({on_time}), COUNT(*) FROM {event} e "
    "WHERE e.at >= %s AND e.at < %s GROUP BY e.actor_id, e.kind",
}


def _naive(first: dt.date, last: dt.date) -> dict[str, float]:
    from django.db import connection

    from citykeeper.store.models import Case, CaseEvent

    q = connection.ops.quote_name
    names = {"event": q(CaseEvent._meta.db_table), "case": q(Case._meta.db_table), "on_time": _on_time_sql()}
    out = {}
    for label, sql in NAIVE.items():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql.format(**names), _bounds(first, last))
            cursor.fetchall()
        out[label] = round(time.perf_counter() - started, 3)
    return out


def _check(first: dt.date, last: dt.date) -> list[str]:
    """Where a naive query counts exactly what a counter counts, they must agree."""
    from django.db import connection

    from citykeeper.services import counters
    from citykeeper.store.models import Case, CaseEvent, Unit

    q = connection.ops.quote_name
    event, case, on_time = q(CaseEvent._meta.db_table), q(Case._meta.db_table), _on_time_sql()
    unit_code = "e.data ->> 'unit'" if connection.vendor == "postgresql" else "json_extract(e.data, '$.unit')"
    bounds = _bounds(first, last)
    unit_ids = dict(Unit.objects.values_list("code", "id"))

    def raw(sql: str) -> dict:
        with connection.cursor() as cursor:
            cursor.execute(sql, bounds)
            return {k: v for k, v in cursor.fetchall() if v}

    def kept(counter: str, kind: str) -> dict:
        out: dict = {}
        for (_c, _k, sid, _key), value in counters.read(first, last, [counter], kind).items():
            out[sid] = out.get(sid, 0) + value
        return {k: v for k, v in out.items() if v}

    where = "e.at >= %s AND e.at < %s"
    checks = {
        "dispatched per unit": (
            {
                unit_ids[code]: n
                for code, n in raw(
                    f"SELECT {unit_code}, COUNT(*) FROM {event} e WHERE e.kind = 'dispatch' AND {where} GROUP BY 1"
                ).items()
            },
            kept("dispatched", "unit"),
        ),
        "reported per grid": (
            raw(
                f"SELECT c.area_id, COUNT(*) FROM {event} e JOIN {case} c ON c.id = e.case_id "
                f"WHERE e.kind = 'report' AND {where} GROUP BY c.area_id"
            ),
            kept("reported", "grid"),
        ),
        "on-time disposals": (
            raw(f"SELECT 1, SUM({on_time}) FROM {event} e WHERE e.kind = 'dispose' AND {where}"),
            {1: sum(kept("disposed_on_time", "unit").values())} if kept("disposed_on_time", "unit") else {},
        ),
    }
    done = []
    for label, (naive, counted) in checks.items():
        if naive != counted:
            raise SystemExit(f"the counters disagree with the raw events on {label}: {naive} != {counted}")
        done.append(f"{label} ({sum(naive.values()):,})")
    return done


# ------------------------------------------------------------------ the phases (child processes)


def _timed(fn, n: int = 3) -> float:
    """Median seconds of ``n`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def _window(now: dt.datetime, months: int) -> tuple[dt.date, dt.date]:
    last = now.astimezone(SHANGHAI).date().replace(day=1) - dt.timedelta(days=1)
    year, month = last.year, last.month - months + 1
    while month < 1:
        year, month = year - 1, month + 12
    return dt.date(year, month, 1), last


def phase_load(args, now: dt.datetime) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from citykeeper.demo.loader import load_demo

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    load_demo(now=now, days=0)
    base_s = time.perf_counter() - t
    print(f"{connection.vendor}: migrated and loaded the base data in {base_s:.0f} s", file=sys.stderr, flush=True)
    made = generate(args.months, args.per_month, now=now)
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {**made, "base_s": round(base_s, 1), "analyze_s": round(time.perf_counter() - t, 1)}


def phase_rebuild(args, now: dt.datetime) -> dict:
    from citykeeper.services import counters
    from citykeeper.store.models import EvaluationCounter

    done = counters.rebuild()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest one
    day_rows = EvaluationCounter.objects.filter(grain="day").count()
    month_rows = EvaluationCounter.objects.filter(grain="month").count()
    return {
        **done,
        "peak_mb": round(peak_mb),
        "children_peak_mb": round(children_mb),
        "day_rows": day_rows,
        "month_rows": month_rows,
    }


def phase_evaluate(args, now: dt.datetime) -> dict:
    from django.db import connection

    from citykeeper.domain.evaluation.periods import Period
    from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES
    from citykeeper.services import evaluation
    from citykeeper.store.models import Area, Case, CaseEvent, RoleGrant, Unit

    first, last = _window(now, args.months)
    month = Period.month(last.year, last.month)
    whole = Period.custom(first, last)
    with connection.cursor() as cursor:  # warm the caches the way a running server has them
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(CaseEvent._meta.db_table)}")
        events = cursor.fetchone()[0]
    rows = []
    for code, scheme in DEFAULT_SCHEMES.items():
        levels = ("street", "grid") if scheme.subject.value == "grid" else ("",)
        for level in levels:

            def plain(code=code, level=level):
                return evaluation.evaluate(month, code, now=now, level=level or "street", comparisons=False)

            def compared(code=code, level=level):
                return evaluation.evaluate(month, code, now=now, level=level or "street", comparisons=True)

            subjects = len(plain().subjects)
            rows.append(
                {
                    "scheme": code,
                    "level": level,
                    "subjects": subjects,
                    "seconds": _timed(plain),
                    "with_comparisons": _timed(compared),
                }
            )
            print(f"  {code} {level}: {rows[-1]}", file=sys.stderr, flush=True)
    naive_month = {label: statistics.median(_naive(month.start, month.end)[label] for _ in range(3)) for label in NAIVE}
    year_units = _timed(lambda: evaluation.evaluate(whole, "unit", now=now, comparisons=False), n=1)
    naive_year = _naive(first, last)
    checks = _check(month.start, month.end)
    return {
        "database": connection.vendor,
        "version": connection.Database.sqlite_version
        if connection.vendor == "sqlite"
        else str(connection.pg_version // 10000),
        "month": month.start.isoformat()[:7],
        "first": first.isoformat(),
        "last": last.isoformat(),
        "cases": Case.objects.count(),
        "month_cases": Case.objects.filter(
            reported_at__gte=dt.datetime.combine(month.start, dt.time(), SHANGHAI),
            reported_at__lt=dt.datetime.combine(month.end + dt.timedelta(days=1), dt.time(), SHANGHAI),
        ).count(),
        "events": events,
        "grids": Area.objects.filter(level="grid").count(),
        "units": Unit.objects.filter(active=True).count(),
        "inspectors": RoleGrant.objects.filter(role="inspector").count(),
        "schemes": rows,
        "naive_month": naive_month,
        "year_units_s": year_units,
        "naive_year": naive_year,
        "checks": checks,
    }


PHASES = {"load": phase_load, "rebuild": phase_rebuild, "evaluate": phase_evaluate}


def child(args) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citykeeper.settings")
    import django

    django.setup()
    now = dt.datetime.fromisoformat(args.now)
    started = time.perf_counter()
    result = PHASES[args.child](args, now)
    result[f"{args.child}_phase_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, ensure_ascii=False, default=str))


# ------------------------------------------------------------------ the parent


def reset_postgres(env: dict[str, str]) -> None:
    import psycopg

    conninfo = dict(
        host=env.get("CITYKEEPER_PG_HOST", "127.0.0.1"),
        port=env.get("CITYKEEPER_PG_PORT", "5432"),
        user=env.get("CITYKEEPER_PG_USER", "postgres"),
        password=env.get("CITYKEEPER_PG_PASSWORD", ""),
        dbname="postgres",
    )
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')


def run_engine(engine: str, args, now: dt.datetime) -> dict:
    base_env = {**os.environ, "CITYKEEPER_LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "citykeeper.settings"}

    def phases(env: dict[str, str]) -> dict:
        result: dict = {}
        if args.reuse_pg:  # loaded before (``--child load``): its figures from that run's output
            result["load"] = json.loads(Path(args.load_json).read_text(encoding="utf-8").strip().splitlines()[-1])
        for phase in PHASES:
            if phase in result:
                continue
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                phase,
                "--months",
                str(args.months),
                "--per-month",
                str(args.per_month),
                "--now",
                now.isoformat(),
            ]
            started = time.perf_counter()
            out = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
            result[phase] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{engine} {phase}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        return result

    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as var:
            return phases({**base_env, "CITYKEEPER_DB": "sqlite", "CITYKEEPER_VAR": var})
    if args.reuse_pg:
        return phases({**base_env, "CITYKEEPER_DB": "postgres", "CITYKEEPER_PG_NAME": args.reuse_pg})
    env = {**base_env, "CITYKEEPER_DB": "postgres", "CITYKEEPER_PG_NAME": PG_BENCH_DB}
    reset_postgres(env)
    try:
        return phases(env)
    finally:
        reset_postgres(env)  # leaves an empty database, not twenty gigabytes


def _seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.0f} s"


def section(results: list[dict], args, minutes: float) -> str:
    sys.path.insert(0, str(ROOT / "bench"))
    from run import machine

    reused = ""
    if args.reused:
        load = results[0]["load"]["seconds"] / 60
        reused = (
            f" (rebuild and evaluation; the year was loaded before, in {load:.0f} minutes, "
            "with `--child load`, and reused with `--reuse-pg`)"
        )
    parts = [
        f"""## 综合评价 at Kunming scale

Written by `make bench` (`bench/evaluation.py`). Machine: {args.machine or machine()}. The issue's targets:
a month's full evaluation of a city at Kunming scale (~200,000 cases a month, 3,000 grids,
150 units, 400 inspectors) in ≤ 1 s; a rebuild of the counters from a year of history
(2.5 M cases) in ≤ 5 minutes; each next to the naive query over the raw events.

Each database starts empty: migrate, the demo city's base data (its 3,260 unit grids,
codebook and staff), units up to {UNITS} and inspectors up to {INSPECTORS} (a community each
as patrol area), then {args.months} whole months of synthetic cases, {args.per_month:,} a month,
each with its whole event log as the services write it (report, verification of public
reports, acceptance, filing, dispatch, disposal, check, closing, with their stage outcomes;
late stages after a `deadline_overdue` event, returns, extensions, rework, urges, voids,
rejections, self-disposals at plausible rates). Then, each in a fresh process:

- **rebuild**: `citykeeper evaluate --rebuild` over the whole log (every case's history read
  in order, its contributions computed, the day and month rows written), with the process's
  peak memory (the rows of a day are written out once no later case can change them);
- **evaluation**: each default scheme for the last month as the console runs it (median of
  3 after a warm-up), without and with 环比/同比 (which evaluate two more months);
- **naive queries**: the least an evaluation without counters reads: the period's events
  joined to their cases and grouped by unit, grid or actor and kind, with on-time sums
  (median of 3). They do not yet follow stage instances, returns or standing closings,
  which need each case's history in order, so the naive way is slower than shown;
- **checks**: where a naive query counts exactly what a counter counts, both must agree
  (the run stops otherwise).

The whole run took {minutes:.0f} minutes{reused}. The machine is shared: other work (the test suite,
other sessions) may have run beside it, so the figures are on the slow side; the naive
queries, which no change of ours makes faster or slower, and the speed gauge above tell
how fast it was that day.
"""
    ]
    for r in results:
        load, rebuild, ev = r["load"], r["rebuild"], r["evaluate"]
        name = "SQLite" if ev["database"] == "sqlite" else "PostgreSQL"
        scheme_rows = "\n".join(
            f"| {row['scheme']}{' (' + row['level'] + ')' if row['level'] else ''} | {row['subjects']:,} "
            f"| {_seconds(row['seconds'])} | {_seconds(row['with_comparisons'])} |"
            for row in ev["schemes"]
        )
        total = sum(row["seconds"] for row in ev["schemes"])
        naive_month = sum(ev["naive_month"].values())
        naive_year = sum(ev["naive_year"].values())
        year_note = ""
        if args.months < FULL_MONTHS:  # a shorter run: what a year would take at the same rate per case
            year_s = rebuild["seconds"] * FULL_MONTHS * 208_000 / rebuild["cases"]
            year_note = (
                f"; at that rate a year of {FULL_MONTHS * 208_000:,} cases would take about {year_s / 60:.0f} minutes "
                f"(target ≤ 5)"
            )
        else:
            year_note = " (target ≤ 300 s)"
        slowest = max(ev["schemes"], key=lambda row: row["seconds"])
        over = [row for row in ev["schemes"] if row["seconds"] > MONTH_TARGET_S]
        rebuild_limit = REBUILD_TARGET_S * rebuild["cases"] / (FULL_MONTHS * 208_000)
        verdict = (
            f"month evaluation {'met' if not over else 'missed'} (slowest: {slowest['scheme']}"
            f"{' at ' + slowest['level'] + ' level' if slowest['level'] else ''}, {_seconds(slowest['seconds'])}); "
            f"rebuild {'met' if rebuild['seconds'] <= rebuild_limit else 'missed'} "
            f"({rebuild['seconds']:.0f} s against {rebuild_limit:.0f} s for this many cases)."
        )
        naive_rows = "\n".join(
            f"| naive: {label} | {_seconds(ev['naive_month'][label])} | {_seconds(ev['naive_year'][label])} |"
            for label in NAIVE
        )
        parts.append(
            f"""### {name} {ev["version"]}

{ev["cases"]:,} cases ({ev["first"]} to {ev["last"]}; {ev["month_cases"]:,} reported in {ev["month"]}),
{ev["events"]:,} events, {ev["grids"]:,} grids, {ev["units"]} units, {ev["inspectors"]} inspectors.
Loading them took {load["seconds"]:.0f} s.

**Rebuild** of the whole log: **{rebuild["seconds"]:.0f} s** for
{rebuild["cases"]:,} cases and {rebuild["events"]:,} events (the neutral kinds left out){year_note},
{rebuild["day_rows"]:,} day rows and {rebuild["month_rows"]:,} month rows, in {rebuild.get("processes", 1)}
process(es) computing beside the one writing: {rebuild.get("rows_seconds", rebuild["seconds"]):.0f} s reading,
computing and writing the rows, {rebuild.get("index_seconds", 0):.0f} s building the indexes again,
{rebuild.get("commit_seconds", 0):.0f} s adding the {rebuild["late_rows"]:,} late rows (rows of cases counted
on days another process owns) and committing; peak memory {rebuild["peak_mb"]:,} MB in the
writing process, {rebuild.get("children_peak_mb", 0):,} MB in the largest computing one.

**A month's evaluation** ({ev["month"]}), from the counters:

| scheme | subjects | evaluation | with 环比/同比 |
| --- | ---: | ---: | ---: |
{scheme_rows}
| **every scheme, one after the other** | | **{_seconds(total)}** | |

**Next to the naive queries over the raw events** (the same month, and all {args.months} months):

| | {ev["month"]} | {ev["first"][:7]} to {ev["last"][:7]} |
| --- | ---: | ---: |
| units from the counters | {_seconds(next(r["seconds"] for r in ev["schemes"] if r["scheme"] == "unit"))} \
| {_seconds(ev["year_units_s"])} |
{naive_rows}
| naive: all three | {_seconds(naive_month)} | {_seconds(naive_year)} |

Checked equal to the raw events: {", ".join(ev["checks"])}.

**Against the targets**: {verdict}
"""
        )
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--months", type=int, default=FULL_MONTHS)
    parser.add_argument("--per-month", type=int, default=208_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--write", action="store_true", help="write docs/benchmarks.md for a smaller run too")
    parser.add_argument("--json", help="also save the raw results to this file")
    parser.add_argument("--from-json", help="do not run: write the section from results saved with --json")
    parser.add_argument(
        "--reuse-pg",
        metavar="NAME",
        help="PostgreSQL only: rebuild and evaluate the database NAME, loaded before with "
        "`--child load --now ISO` (give the same --now, and that run's output as --load-json)",
    )
    parser.add_argument("--load-json", help="with --reuse-pg: the output of the load")
    parser.add_argument("--child", choices=list(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--now", help="the time the run is made at (default: now)")
    args = parser.parse_args()
    if args.reuse_pg and (args.db != "postgres" or not args.load_json or not args.now):
        parser.error("--reuse-pg needs --db postgres, --load-json and --now")
    if args.child:
        child(args)
        return 0
    started = time.perf_counter()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        results, minutes = saved["results"], saved["minutes"]
        args.months, args.per_month, args.write = saved["months"], saved["per_month"], True
        args.machine, args.reused = saved.get("machine"), saved.get("reused", False)
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from run import machine

        args.machine, args.reused = machine(), bool(args.reuse_pg)  # the gauge before the run
        now = dt.datetime.fromisoformat(args.now) if args.now else dt.datetime.now(dt.UTC).replace(microsecond=0)
        engines = ["postgres", "sqlite"] if args.db == "both" else [args.db]
        results = [run_engine(engine, args, now) for engine in engines]
        minutes = (time.perf_counter() - started) / 60
    if args.json:
        saved = {
            "months": args.months,
            "per_month": args.per_month,
            "minutes": minutes,
            "results": results,
            "machine": args.machine,
            "reused": args.reused,
        }
        Path(args.json).write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    if (args.months >= FULL_MONTHS and args.per_month >= FULL_PER_MONTH) or args.write:
        from citykeeper.benchmarks import write_section

        write_section(REPORT, "## 综合评价", section(results, args, minutes))
    missed = []
    for r in results:
        ev = r["evaluate"]
        worst = max(row["seconds"] for row in ev["schemes"])
        print(f"{ev['database']}: rebuild {r['rebuild']['seconds']} s, slowest month evaluation {worst} s")
        if worst > MONTH_TARGET_S:
            missed.append(f"{ev['database']} month evaluation {worst} s")
        if r["rebuild"]["seconds"] > REBUILD_TARGET_S * args.months * args.per_month / (FULL_MONTHS * 208_000):
            missed.append(f"{ev['database']} rebuild {r['rebuild']['seconds']} s")
    for line in missed:
        print("target missed:", line, file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
