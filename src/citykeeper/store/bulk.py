"""Fast inserts for base data: many rows of one model in one ``executemany``.

``bulk_create`` builds a model instance per row and prepares every field of it; for
100,000 components that is most of the import. Here rows are plain tuples, each value
is adapted by its field's own database preparation only where the type needs it
(JSON, dates, date-times), and the statement runs once per batch. No signals are sent
and no defaults are filled in: the caller gives every column it names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from django.db import connection, models


def _adapter(field: models.Field) -> Callable[[Any], Any] | None:
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    return None


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[Any]], batch: int = 5000
) -> int:
    """Insert ``rows`` (tuples in the order of ``names``, foreign keys as ids with their
    ``_id`` attribute names) into ``model``'s table; return how many were written."""
    fields = [model._meta.get_field(name) for name in names]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({marks})"
    adapters = [(i, a) for i, a in enumerate(_adapter(f) for f in fields) if a is not None]
    written = 0
    iterator = iter(rows)
    with connection.cursor() as cursor:
        while chunk := list(islice(iterator, batch)):
            if adapters:
                prepared = []
                for row in chunk:
                    values = list(row)
                    for i, adapt in adapters:
                        if values[i] is not None:
                            values[i] = adapt(values[i])
                    prepared.append(values)
                chunk = prepared
            cursor.executemany(sql, chunk)
            written += len(chunk)
    return written


_COLUMNS: dict[type[models.Model], tuple[str, ...]] = {}


def insert_new(instance: models.Model) -> None:
    """Insert one new row from a model instance without the ORM's save machinery (no
    signals, no pk returned): for append-only rows written on every case move."""
    model = type(instance)
    names = _COLUMNS.get(model)
    if names is None:
        names = tuple(f.attname for f in model._meta.concrete_fields if not f.primary_key)
        _COLUMNS[model] = names
    insert_rows(model, names, [tuple(getattr(instance, name) for name in names)])


@contextlib.contextmanager
def indexes_deferred(*models: type[models.Model]) -> Iterator[None]:
    """Inside (and inside a transaction), the tables of ``models`` have no indexes and, on
    PostgreSQL, no primary-key or unique constraints: for filling them with millions of
    rows, since building an index once over the rows costs a fraction of keeping it up to
    date row by row. On the way out the same indexes and constraints are created again,
    from the definitions the database gave before dropping them (a unique violation fails
    the transaction there). A key that another table's foreign key points at stays, and
    foreign keys are left alone (dropping one locks the table it points at, for everyone,
    until the transaction ends). If the block raises, nothing is recreated: the
    transaction's rollback brings them back."""
    tables = [m._meta.db_table for m in models]
    recreate: list[str] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                "SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid) "
                "FROM pg_constraint c WHERE c.conrelid::regclass::text IN (" + marks + ") "
                "AND c.contype IN ('p', 'u') AND NOT EXISTS ("
                "  SELECT 1 FROM pg_constraint r WHERE r.confrelid = c.conrelid AND r.contype = 'f' "
                "  AND r.conrelid::regclass::text NOT IN (" + marks + ")) ORDER BY c.conname",
                [*tables, *tables],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid::regclass::text IN (" + marks + ") AND NOT EXISTS ("
                "  SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
                tables,
            )
            indexes = cursor.fetchall()
            q = connection.ops.quote_name
            for table, name, _kind, _definition in constraints:
                cursor.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX {q(name)}")
            recreate = [definition for _name, definition in indexes]
            recreate += [
                f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {definition}"
                for table, name, _kind, definition in constraints
            ]
        else:  # SQLite: its unique constraints are indexes; keys are part of the table
            marks = ", ".join(["%s"] * len(tables))
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({marks}) ORDER BY name",
                tables,
            )
            indexes = cursor.fetchall()
            for name, _sql in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
            recreate = [sql for _name, sql in indexes]
    yield
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One index build sorts its rows in memory up to this much (the default is 64 MB).
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for statement in recreate:
            cursor.execute(statement)
