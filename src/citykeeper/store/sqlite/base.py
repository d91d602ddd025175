"""SQLite backend with one change: a database flush empties case events last.

The append-only trigger (migration 0002) lets an event row be deleted only once its
case is gone. Django's SQLite flush deletes tables in set order, which varies from
run to run; deleting events after cases keeps the trigger strict and flushes working.
"""

from __future__ import annotations

from django.db.backends.sqlite3 import base, operations

_EVENTS = '"store_case_event"'


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return sorted(statements, key=lambda sql: sql.startswith("DELETE") and _EVENTS in sql)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
