"""A case's stored contributions become compact text instead of a JSON list: a year's
rebuild writes millions of them, and PostgreSQL parses and compresses jsonb several times
slower than it copies text. The rows written before are converted here, both ways; the
format is ``services.counters.stored``'s, written out again so this migration keeps
meaning what it meant when it was written."""

import json

from django.db import migrations, models

CHUNK = 2000


def _as_text(rows: list) -> str:
    by_day: dict[str, list[str]] = {}
    for counter, day, kind, sid, key, value in rows:
        if key:
            entry = f"{counter} {kind} {sid} {value} {key}"
        elif value != 1:
            entry = f"{counter} {kind} {sid} {value}"
        else:
            entry = f"{counter} {kind} {sid}"
        by_day.setdefault(day, []).append(entry)
    return ";".join(f"{day}={','.join(entries)}" for day, entries in by_day.items())


def _as_list(text: str) -> list:
    rows = []
    for part in text.split(";") if text else ():
        day, _mark, entries = part.partition("=")
        for entry in entries.split(","):
            counter, kind, sid, *rest = entry.split(" ")
            value = int(rest[0]) if rest else 1
            key = int(rest[1]) if len(rest) > 1 else 0
            rows.append([counter, day, kind, int(sid), key, value])
    return sorted(rows)


def _convert(schema_editor, convert) -> None:
    """Rewrite every row's text through ``convert``, a chunk of rows at a time."""
    connection = schema_editor.connection
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT case_id, contributions FROM store_case_contribution WHERE case_id > %s "
                "ORDER BY case_id LIMIT %s",
                [last, CHUNK],
            )
            chunk = cursor.fetchall()
            if not chunk:
                return
            cursor.executemany(
                "UPDATE store_case_contribution SET contributions = %s WHERE case_id = %s",
                [(convert(text), case_id) for case_id, text in chunk],
            )
            last = chunk[-1][0]


# PostgreSQL converts in one statement (a year is millions of rows): each day's entries in
# the order the sorted list had them, the days in the order of their first entry.
_TO_TEXT_SQL = """
UPDATE store_case_contribution c SET contributions = COALESCE((
    SELECT string_agg(d.day || '=' || d.entries, ';' ORDER BY d.first)
    FROM (
        SELECT e ->> 1 AS day, min(n) AS first, string_agg(
            (e ->> 0) || ' ' || (e ->> 2) || ' ' || (e ->> 3) || CASE
                WHEN (e ->> 4)::bigint <> 0 THEN ' ' || (e ->> 5) || ' ' || (e ->> 4)
                WHEN (e ->> 5)::bigint <> 1 THEN ' ' || (e ->> 5)
                ELSE '' END,
            ',' ORDER BY n) AS entries
        FROM jsonb_array_elements(c.contributions::jsonb) WITH ORDINALITY AS t(e, n)
        GROUP BY e ->> 1
    ) d
), '')
"""


def to_text(apps, schema_editor) -> None:
    # After the column became text it holds the JSON's text (PostgreSQL's jsonb::text).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_TO_TEXT_SQL)
    else:
        _convert(schema_editor, lambda value: _as_text(json.loads(value)) if value else "")


def to_json(apps, schema_editor) -> None:
    # Still a text column here: the JSON's text, which the reverse AlterField casts back.
    _convert(schema_editor, lambda value: json.dumps(_as_list(value), ensure_ascii=False))


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0019_derived_tables_without_case_constraint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="casecontribution",
            name="contributions",
            field=models.TextField(blank=True, default="", verbose_name="计数贡献"),
        ),
        migrations.RunPython(to_text, to_json),
    ]
