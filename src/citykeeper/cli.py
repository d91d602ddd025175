"""``citykeeper``: the command line of a CityKeeper deployment.

    citykeeper demo        migrate, load the demo city once, serve it with the deadline worker
    citykeeper migrate     apply database migrations
    citykeeper load-demo   load the demo city of 徐州 (no-op when it is there)
    citykeeper serve       the web server (gunicorn)
    citykeeper worker      the periodic jobs (deadline ticker)
    citykeeper tick        fire the deadline marks due now, once
    citykeeper verify      walk every case's event chain; exit 1 if any history was altered
    citykeeper evaluate --period 2026-10 [--scheme unit] [--level street] [--publish]
                           score a period (综合评价) and print the ranking; store it, publish it
    citykeeper evaluate --rebuild   recompute the evaluation counters from the event log
    citykeeper sample --period 2026-10 --kind cases|patrol [--size N]
                           draw the period's random re-verification sample (抽查) and print it
    citykeeper bulletin --period 2026-10 [--out DIR]   the monthly bulletin as Excel and PDF
    citykeeper seed-calendar / load-codebook
    citykeeper manage ...  any Django management command

Settings come from the environment (``CITYKEEPER_*``; see ``citykeeper/settings.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
STARTUP_SECONDS = 60


def _setup() -> None:
    """Point Django at our settings, make sure var/ exists, and set Django up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citykeeper.settings")
    import django
    from django.apps import apps
    from django.conf import settings

    if not apps.ready:  # called in-process (tests, another command): set up once only
        django.setup()
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)


def _port(args: argparse.Namespace) -> int:
    if args.port is not None:
        return args.port
    value = os.environ.get("CITYKEEPER_PORT", str(DEFAULT_PORT))
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"CITYKEEPER_PORT must be a port number, not {value!r}") from None


# ---------------------------------------------------------------- commands


def cmd_migrate(args: argparse.Namespace) -> int:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0 if args.quiet else 1)
    return 0


def _migrate_quietly() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _load(args: argparse.Namespace) -> int:
    """Load the demo once: 0 when it is there, 1 if some simulated steps were refused,
    2 if it cannot be loaded into this database."""
    from django.utils import timezone

    from citykeeper.demo import DemoConflict, is_loaded, load_demo

    if is_loaded():
        print("The demo city is already loaded; nothing to do.")
        return 0
    span = f"{args.days} days" if args.days is not None else "three whole months and this one"
    print(f"Loading the demo city of 徐州 ({span} of history) ...", flush=True)
    try:
        summary = load_demo(now=timezone.now(), days=args.days, seed=args.seed, cases_per_day=args.cases_per_day)
    except DemoConflict as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print_summary(summary)
    return 0 if summary.refused_steps == 0 else 1


def _print_summary(summary) -> None:
    areas = ", ".join(f"{n} {level}" for level, n in sorted(summary.areas.items(), key=lambda kv: -kv[1]))
    print(f"{summary.message} ({summary.seconds:.1f} s)")
    print(f"  areas: {areas}")
    print(f"  units: {summary.units}, users: {summary.users}, cases: {summary.cases}, events: {summary.events}")
    print(
        f"  components: {summary.components}, roads: {summary.roads}, doorplates: {summary.doorplates}, "
        f"responsibility grids: {summary.responsibility_grids}, routing rules: {summary.routing_rules}"
    )
    states = ", ".join(f"{state} {n}" for state, n in summary.by_state.items())
    print(f"  cases by state: {states}")
    if summary.evaluations:
        print(f"  evaluations published: {summary.evaluations} (every scheme, each whole month)")
    for warning in summary.warnings:
        print(f"  warning: {warning}")
    if summary.refused_steps:
        print(f"  {summary.refused_steps} simulated steps were refused by the services:")
        for line in summary.refused:
            print(f"    {line}")


def cmd_load_demo(args: argparse.Namespace) -> int:
    _migrate_quietly()
    return _load(args)


def _collectstatic() -> None:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def _gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "citykeeper.wsgi",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--graceful-timeout", "5",
        "--log-level", "warning",
    ]  # fmt: skip


def cmd_serve(args: argparse.Namespace) -> int:
    _collectstatic()
    argv = _gunicorn_argv(args.host, _port(args), args.workers, args.threads)
    os.execv(argv[0], argv)  # gunicorn takes over this process and its signals
    return 0  # pragma: no cover


def cmd_worker(args: argparse.Namespace) -> int:
    from citykeeper.jobs import worker

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker.run(stop, once=args.once)
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from citykeeper.jobs.ticker import tick

    report = tick(timezone.now())
    print(f"warnings {report.warnings}, overdue {report.overdue}, lost races {report.lost_races}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from citykeeper.services.audit import verify_chains

    checked, broken = verify_chains()
    for problem in broken:
        print(f"{problem.case_number} seq {problem.seq}: {problem.reason}")
    print(f"checked {checked} cases, {len(broken)} altered")
    return 1 if broken else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.rebuild:
        from citykeeper.services.counters import rebuild

        done = rebuild()
        print(f"cases {done['cases']}, events {done['events']}, rows {done['rows']}, seconds {done['seconds']}")
        return 0
    if getattr(args, "sampling_weights", False):
        return _adopt_sampling_weights()
    if not args.period:
        print(
            "say what to do: --period 2026-10 (with --scheme, --level, --publish), --rebuild or --sampling-weights",
            file=sys.stderr,
        )
        return 2
    from django.utils import timezone

    from citykeeper.domain.errors import DomainError
    from citykeeper.domain.evaluation.periods import parse
    from citykeeper.services import evaluation

    now = timezone.now()
    try:
        period = parse(args.period)
        stored = evaluation.run(period, args.scheme, by=None, now=now, level=args.level)
        if args.publish:
            stored = evaluation.publish(stored.pk, by=None, now=now)
    except DomainError as exc:
        print(f"refused ({exc.field}): {exc}", file=sys.stderr)
        return 2
    results = stored.results
    title = f"{results['period']['label']} · {results['scheme']['label']} v{results['scheme']['version']}"
    print(title + (" · 暂定 (provisional)" if stored.provisional else ""))
    for subject in results["subjects"]:
        rank = subject["rank"] if subject["ranked"] else "—"
        composite = subject["composite"] or "—"
        print(
            f"{rank!s:>4}  {subject['composite'] and composite:>7}  {subject['grade'] or '-'}  {subject['group']}  "
            f"{subject['name']}" + ("" if subject["ranked"] else f"  (not ranked: {subject['reason']})")
        )
    print(
        f"run {stored.pk}, checksum {stored.checksum[:12]}"
        + (f", published as {stored.snapshot_id}" if stored.snapshot_id else "")
    )
    return 0


def _adopt_sampling_weights() -> int:
    """Save the recommended scheme versions that score 抽查 (reason 加入抽查指标)."""
    from django.utils import timezone

    from citykeeper.domain.errors import DomainError
    from citykeeper.services import sampling

    try:
        saved = sampling.adopt_weights(by=None, now=timezone.now())
    except DomainError as exc:
        print(f"refused ({exc.field}): {exc}", file=sys.stderr)
        return 2
    for row in saved:
        weights = " · ".join(f"{i['indicator']} {i['weight']}" for i in row.definition["items"])
        print(f"{row.code} v{row.version}: {weights}")
    if not saved:
        print("the unit, inspector and contractor schemes score 抽查 already")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """抽查: draw the period's sample of closed cases (per unit) or patrol-area grids (per
    inspector) and print what was drawn, with the seed that lets anyone draw it again."""
    from django.utils import timezone

    from citykeeper.domain.errors import DomainError
    from citykeeper.domain.evaluation.periods import parse
    from citykeeper.services import sampling

    try:
        row = sampling.draw(parse(args.period), args.kind, by=None, now=timezone.now(), size=args.size)
    except DomainError as exc:
        print(f"refused ({exc.field}): {exc}", file=sys.stderr)
        return 2
    items = row.items.select_related("case", "grid", "unit", "inspector").order_by(
        "unit__code", "inspector__username", "position"
    )
    candidates = sum(len(v) for v in row.population.values())
    print(f"round {row.pk} · {args.kind} · {row.period_start}…{row.period_end} · seed {row.seed}")
    print(
        f"rule {row.rule['share']} of each, at least {row.rule['minimum']}; {len(row.population)} strata, "
        f"{candidates} candidates, {items.count()} drawn"
    )
    for item in items:
        judged = item.unit.name if item.unit_id else (item.inspector.display_name or item.inspector.username)
        what = item.case.number if item.case_id else f"{item.grid.code} {item.grid.name}"
        print(f"{item.position:>4}  {judged}  {what}  {item.day}")
    return 0


def cmd_bulletin(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from citykeeper.domain.errors import DomainError
    from citykeeper.domain.evaluation.periods import parse
    from citykeeper.reports import bulletin

    now = timezone.now()
    try:
        made = bulletin.gather(parse(args.period), now=now)
    except DomainError as exc:
        print(f"refused ({exc.field}): {exc}", file=sys.stderr)
        return 2
    if args.out:
        for path in bulletin.write_all(made, args.out):
            print(path)
    else:
        row = bulletin.store(made, by=None, now=now)
        print(f"stored: {row.xlsx.name} and {row.pdf.name}" + (" (暂定 provisional)" if row.provisional else ""))
    return 0


def cmd_seed_calendar(args: argparse.Namespace) -> int:
    from citykeeper.services.calendar import missing_years, seed_calendar

    years = None
    if args.years:
        first, _, last = args.years.partition("-")
        years = range(int(first), int(last or first) + 1)
    result = seed_calendar(years)
    print(
        f"calendar: {result['days']} holiday/workday rows added, {result['skipped_years']} years unknown "
        f"to chinese-calendar skipped"
    )
    from django.utils import timezone

    missing = missing_years(timezone.localdate())
    if missing:
        print(f"warning: no calendar for {', '.join(map(str, missing))}; enter those holidays in the admin")
    return 0


def cmd_load_codebook(args: argparse.Namespace) -> int:
    from citykeeper.services.codebook import load_codebook, seed_stage_limits

    report = load_codebook()
    stages = seed_stage_limits()
    print(f"categories: {report.categories_created} created, {report.categories_existing} already there")
    print(
        f"filing conditions: {report.filing_conditions_created} from the real tables, "
        f"{report.defaults_added} defaults; closing conditions: {report.closing_conditions_created}"
    )
    print(f"stage limits: {stages} created")
    return 0


# ---------------------------------------------------------------- demo: server and worker together


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _banner(host: str, port: int) -> str:
    from citykeeper.demo import DEMO_PASSWORD, DISTRICT_LOGINS, LOGINS
    from citykeeper.demo.channels import DEMO_OPEN311_KEY, EVENT_TYPES, demo_cameras

    base = f"http://{_reachable(host)}:{port}"
    rows = [("role", "username", "password", "who")]
    rows += [(login.role, login.username, DEMO_PASSWORD, f"{login.display_name}，{login.note}") for login in LOGINS]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "",
        "CityKeeper (城市管家) demo is running: the demo city of 徐州 (Xuzhou)",
        "",
        f"  Web:       {base}/",
        f"  Admin:     {base}/admin/",
        f"  API docs:  {base}/api/v1/docs   (OpenAPI: {base}/api/v1/openapi.json)",
        "",
        "  Demo logins:",
    ]
    for i, row in enumerate(rows):
        lines.append("    " + "  ".join(cell.ljust(widths[j]) if j < 3 else cell for j, cell in enumerate(row)))
        if i == 0:
            lines.append("    " + "  ".join("-" * w for w in widths) + "  " + "-" * 3)
    lines += [
        f"    District staff (scoped to one district): {', '.join(DISTRICT_LOGINS)}",
        "",
        f"  Citizen portal: {base}/report/   public map: {base}/map/   inspector app: {base}/m/",
        f"  Evaluation (综合评价): {base}/console/evaluation/ (evaluator)   published: {base}/evaluation/",
        f"  Open311:   {base}/open311/v2/discovery.json   api_key: {DEMO_OPEN311_KEY}",
        f"  Cameras:   POST {base}/api/v1/devices/events with header X-Device-Key:",
    ]
    lines += [f"    {camera.code}  {camera.key}  ({camera.name})" for camera in demo_cameras()]
    lines += [
        f"    event types: {', '.join(event_type for event_type, _name in EVENT_TYPES)}",
        "",
        "  The deadline worker is running. Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)


def _wait_until_up(url: str, proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    return False


def _stop(procs: list[subprocess.Popen], timeout: float = 10.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cmd_demo(args: argparse.Namespace) -> int:
    _migrate_quietly()
    if _load(args) == 2:
        return 2
    _collectstatic()
    port = _port(args)
    # Close this process's database connection before the children open theirs.
    from django.db import connections

    connections.close_all()

    # Ctrl-C stops the demo even when started from a shell that ignores SIGINT for
    # background jobs; SIGTERM (e.g. from a process manager) does the same.
    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    server = subprocess.Popen(_gunicorn_argv(args.host, port, args.workers, args.threads))
    procs = [server]
    try:
        worker = subprocess.Popen([sys.executable, "-m", "citykeeper", "worker"])
        procs.append(worker)
        if not _wait_until_up(f"http://{_reachable(args.host)}:{port}/healthz", server, STARTUP_SECONDS):
            print(
                f"The web server did not come up on {args.host}:{port} (is the port in use? try --port).",
                file=sys.stderr,
            )
            return 1
        print(_banner(args.host, port), flush=True)
        while True:
            for proc, name in ((server, "web server"), (worker, "worker")):
                if proc.poll() is not None:
                    print(
                        f"The {name} stopped (exit code {proc.returncode}); stopping the demo.",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping the web server and the worker ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _stop(procs)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _refusal(exc) -> int:
    """Print a refused import or bad input the way a person can act on it; exit code 2."""
    print(f"refused: {exc.message}", file=sys.stderr)
    for line in getattr(exc, "problems", [])[:200]:
        print(f"  - {line}", file=sys.stderr)
    fixes = getattr(exc, "fixes", [])
    if fixes:
        print(f"(--fix would change {len(fixes)} feature(s); nothing was written)", file=sys.stderr)
    return 2


def cmd_import_areas(args: argparse.Namespace) -> int:
    from citykeeper.domain.errors import InvalidInput
    from citykeeper.services.imports import import_areas

    try:
        report = import_areas(
            args.file,
            level=args.level,
            crs=args.crs,
            parent=args.parent,
            code_field=args.code_field,
            name_field=args.name_field,
            parent_field=args.parent_field,
            fix=args.fix,
            require_tiling=not args.partial,
            tolerance_m2=args.tolerance,
            dry_run=args.dry_run,
            encoding=args.encoding,
        )
    except InvalidInput as exc:
        return _refusal(exc)
    for line in report.fixes:
        print(f"  fixed: {line}")
    verb = "checked (dry run, nothing written)" if report.dry_run else "imported"
    print(f"{report.file}: {verb} {report.created or 'all'} {args.level} area(s) in {report.seconds} s")
    return 0


def cmd_import_components(args: argparse.Namespace) -> int:
    from citykeeper.domain.errors import InvalidInput
    from citykeeper.services.imports import import_components

    try:
        report = import_components(args.file, crs=args.crs, dry_run=args.dry_run, encoding=args.encoding)
    except InvalidInput as exc:
        return _refusal(exc)
    verb = "checked (dry run, nothing written)" if report.dry_run else f"imported {report.created} component(s)"
    print(f"{report.file}: {verb}, {report.generated_codes} code(s) generated, in {report.seconds} s")
    return 0


def cmd_import_gazetteer(args: argparse.Namespace) -> int:
    from citykeeper.domain.errors import InvalidInput
    from citykeeper.services.imports import import_gazetteer

    try:
        report = import_gazetteer(
            args.file,
            kind=args.kind_of,
            crs=args.crs,
            name_field=args.name_field,
            number_field=args.number_field,
            dry_run=args.dry_run,
            encoding=args.encoding,
        )
    except InvalidInput as exc:
        return _refusal(exc)
    verb = (
        "checked (dry run, nothing written)" if report.dry_run else f"imported {report.created} {report.kind} entries"
    )
    print(f"{report.file}: {verb} in {report.seconds} s")
    return 0


def cmd_grid_generate(args: argparse.Namespace) -> int:
    from citykeeper.domain.errors import InvalidInput
    from citykeeper.services.gridgen import generate_areas

    core = None
    if args.core:
        try:
            lon, lat, side = (float(v) for v in args.core.split(","))
        except ValueError:
            print("refused: --core takes lon,lat,side_m, e.g. 117.19,34.29,3000", file=sys.stderr)
            return 2
        core = (lon, lat, side)
    try:
        report = generate_areas(
            args.district,
            streets=args.streets,
            communities_per_street=args.communities,
            cell_m=args.cell,
            core=core,
            out=args.out,
        )
    except InvalidInput as exc:
        return _refusal(exc)
    where = f"written to {report.written_to}" if report.written_to else "stored"
    print(
        f"{report.district}: {report.streets} streets, {report.communities} communities, {report.grids} unit grids "
        f"over {report.area_km2} km², {where}, in {report.seconds} s"
    )
    return 0


def cmd_bench_locate(args: argparse.Namespace) -> int:
    from citykeeper.spatial import locate_bench

    result = locate_bench.run(grids=args.grids, components=args.components, points=args.points, seed=args.seed)
    section = locate_bench.render_markdown(result)
    print(section)
    if args.write:
        from citykeeper.benchmarks import write_section

        write_section(Path(args.write), "## Locating", section)
        print(f"written to {args.write}")
    return 0


# ---------------------------------------------------------------- parsing


def _parser() -> argparse.ArgumentParser:
    from citykeeper.demo.loader import DEFAULT_CASES_PER_DAY, DEFAULT_DAYS, DEFAULT_SEED

    parser = argparse.ArgumentParser(prog="citykeeper", description="CityKeeper (城市管家) command line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def demo_options(p):
        p.add_argument(
            "--days", type=int, default=DEFAULT_DAYS, help="days of history (default: three whole months and this one)"
        )
        p.add_argument(
            "--cases-per-day",
            type=int,
            default=DEFAULT_CASES_PER_DAY,
            help="average reports a day (default %(default)s)",
        )
        p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")

    def server_options(p):
        p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
        p.add_argument("--port", type=int, default=None, help=f"port (default $CITYKEEPER_PORT or {DEFAULT_PORT})")
        p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default %(default)s)")
        p.add_argument("--threads", type=int, default=4, help="threads per worker (default %(default)s)")

    p = sub.add_parser("demo", help="migrate, load the demo city once, run the web server and the worker")
    demo_options(p)
    server_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("load-demo", help="migrate and load the demo city of 徐州 (no-op when loaded)")
    demo_options(p)
    p.set_defaults(func=cmd_load_demo)

    p = sub.add_parser("serve", help="run the web server (gunicorn)")
    server_options(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run the periodic jobs (deadline ticker) until stopped")
    p.add_argument("--once", action="store_true", help="run each job once and exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("tick", help="fire the deadline warnings and overdue marks due now, once")
    p.set_defaults(func=cmd_tick)

    p = sub.add_parser("verify", help="check every case's hash chain; exit 1 if any history was altered")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("evaluate", help="综合评价: score a period, or rebuild the counters")
    p.add_argument("--period", help="2026-10, 2026-Q3, 2026, 2026-W43 or 2026-10-01..2026-10-15")
    p.add_argument(
        "--scheme",
        default="unit",
        help="unit, region-1, region-2, inspector, operator, shift_lead, dispatcher, contractor",
    )
    p.add_argument("--level", default="street", help="regions: grid, community, street or district")
    p.add_argument("--publish", action="store_true", help="publish the run as a frozen snapshot")
    p.add_argument("--rebuild", action="store_true", help="recompute the day and month counters from the event log")
    p.add_argument(
        "--sampling-weights",
        action="store_true",
        help="save the recommended versions of the unit, inspector and contractor schemes that score 抽查",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("sample", help="抽查: draw a period's random re-verification sample")
    p.add_argument("--period", required=True, help="2026-10 (or any period form of evaluate); must be over")
    p.add_argument("--kind", required=True, choices=("cases", "patrol"), help="closed cases per unit, or patrol grids")
    p.add_argument("--size", type=int, help="draw exactly N per unit or inspector (default: the configured rule)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("bulletin", help="the monthly bulletin (月度通报) as Excel and PDF")
    p.add_argument("--period", required=True, help="2026-10 (or any period form of evaluate)")
    p.add_argument("--out", help="write the two files into this folder (default: store them for download)")
    p.set_defaults(func=cmd_bulletin)

    p = sub.add_parser("seed-calendar", help="seed working hours and holidays (chinese-calendar)")
    p.add_argument("--years", help="a year or a range, e.g. 2025 or 2024-2026 (default: all known)")
    p.set_defaults(func=cmd_seed_calendar)

    p = sub.add_parser("load-codebook", help="load categories, filing conditions and stage limits")
    p.set_defaults(func=cmd_load_codebook)

    p = sub.add_parser("import", help="import base data from GIS files (all or nothing)")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="kind")
    g = kinds.add_parser("grids", help="an area layer: districts, streets, communities, unit or responsibility grids")
    g.add_argument("file", help="GeoJSON, Shapefile (.shp with .shx and .dbf) or CSV with a WKT column")
    g.add_argument(
        "--level", required=True, choices=["city", "district", "street", "community", "grid", "responsibility"]
    )
    g.add_argument("--crs", help="wgs84, cgcs2000, gcj02, bd09, EPSG:4513-4554 or cgcs2000-gk3:<meridian>")
    g.add_argument("--parent", help="code of the area the layer belongs under (limits the parents)")
    g.add_argument("--code-field", help="property holding the code (default: code, adcode, BGID, ...)")
    g.add_argument("--name-field", help="property holding the name (default: name, 名称, ...)")
    g.add_argument("--parent-field", help="property holding the parent's code (default: found by containment)")
    g.add_argument("--fix", action="store_true", help="repair small overlaps, gaps and invalid rings, and say what")
    g.add_argument("--partial", action="store_true", help="the areas need not cover their parents completely")
    g.add_argument("--tolerance", type=float, default=1.0, help="overlap/gap tolerance in m² (default 1)")
    g.add_argument("--encoding", help="text encoding of the .dbf or CSV (default: .cpg, else UTF-8, else GBK)")
    g.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    g.set_defaults(func=cmd_import_areas)

    c = kinds.add_parser("components", help="components (部件) with GB/T 47678.5 attributes")
    c.add_argument("file", help="GeoJSON, Shapefile or CSV (WKT or lon/lat columns)")
    c.add_argument("--crs", help="wgs84, cgcs2000, gcj02, bd09, EPSG:4513-4554 or cgcs2000-gk3:<meridian>")
    c.add_argument("--encoding", help="text encoding of the .dbf or CSV")
    c.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    c.set_defaults(func=cmd_import_components)

    z = kinds.add_parser("gazetteer", help="roads, doorplates or points of interest for addresses")
    z.add_argument("file", help="GeoJSON, Shapefile or CSV")
    z.add_argument("--kind", dest="kind_of", required=True, choices=["road", "doorplate", "poi"])
    z.add_argument("--crs", help="wgs84, cgcs2000, gcj02, bd09, EPSG:4513-4554 or cgcs2000-gk3:<meridian>")
    z.add_argument("--name-field", help="property with the road or POI name (default: name, 名称, ...)")
    z.add_argument("--number-field", help="property with the doorplate number (default: number, 门牌号, ...)")
    z.add_argument("--encoding", help="text encoding of the .dbf or CSV")
    z.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    z.set_defaults(func=cmd_import_gazetteer)

    p = sub.add_parser("grid", help="unit grids (单元网格)")
    grids = p.add_subparsers(dest="grid", required=True, metavar="action")
    gg = grids.add_parser("generate", help="divide a district into streets, communities and unit grids")
    gg.add_argument("--district", required=True, help="code of a stored district with a boundary")
    gg.add_argument("--streets", type=int, required=True, help="street offices to cut the district into")
    gg.add_argument("--communities", type=int, required=True, help="communities per street office")
    gg.add_argument("--cell", type=float, default=100.0, help="unit grid side in metres (default 100: 10,000 m²)")
    gg.add_argument("--core", help="only a square core: lon,lat,side_m (e.g. 117.19,34.29,3000)")
    gg.add_argument("--out", help="write GeoJSON to this file instead of storing the areas")
    gg.set_defaults(func=cmd_grid_generate)

    p = sub.add_parser("bench", help="benchmarks (results for docs/benchmarks.md)")
    benches = p.add_subparsers(dest="bench", required=True, metavar="bench")
    b = benches.add_parser("locate", help="point locating with the spatial index against brute force")
    b.add_argument("--grids", type=int, default=100_000)
    b.add_argument("--components", type=int, default=1_000_000)
    b.add_argument("--points", type=int, default=200_000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--write", metavar="FILE", help="also write the section into FILE, e.g. docs/benchmarks.md")
    b.set_defaults(func=cmd_bench_locate)

    sub.add_parser("manage", help="run a Django management command: citykeeper manage <command> ...")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "manage":
        _setup()
        from django.core.management import execute_from_command_line

        execute_from_command_line(["citykeeper manage", *argv[1:]])
        return 0
    _setup()
    args = _parser().parse_args(argv)
    return args.func(args)
