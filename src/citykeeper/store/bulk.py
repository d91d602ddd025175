"""Fast inserts for base data: many rows of one model in one ``executemany``.

``bulk_create`` builds a model instance per row and prepares every field of it; for
100,000 components that is most of the import. Here rows are plain tuples, each value
is adapted by its field's own database preparation only where the type needs it
(JSON, dates, date-times), and the statement runs once per batch. No signals are sent
and no defaults are filled in: the caller gives every column it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
