"""One benchmark run on one database: load the demo city, verify every chain, tick once.

Run by ``bench/run.py`` (``make bench``) in a fresh process per database; prints one
JSON object. The database must be empty: SQLite in a temporary ``CITYKEEPER_VAR``,
PostgreSQL in a database that ``run.py`` drops and creates.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citykeeper.settings")


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from citykeeper.demo.loader import load_demo
    from citykeeper.jobs.ticker import tick
    from citykeeper.services.audit import verify_chains

    days, per_day = int(sys.argv[1]), int(sys.argv[2])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - started

    started = time.perf_counter()
    summary = load_demo(now=now, days=days, cases_per_day=per_day)
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    checked, broken = verify_chains()
    verify_s = time.perf_counter() - started

    started = time.perf_counter()
    tick(now + dt.timedelta(seconds=1))
    tick_s = time.perf_counter() - started

    print(
        json.dumps(
            {
                "database": connection.vendor,
                "days": days,
                "cases_per_day": per_day,
                "migrate_s": round(migrate_s, 1),
                "load_s": round(load_s, 1),
                "cases": summary.cases,
                "events": summary.events,
                "refused_steps": summary.refused_steps,
                "ms_per_event": round(load_s * 1000 / max(summary.events, 1), 2),
                "verify_s": round(verify_s, 2),
                "verified": checked,
                "broken": len(broken),
                "tick_ms": round(tick_s * 1000, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
