"""SQLite rebuilds store_case for most column changes, and the rename at the end of the
rebuild fails while a trigger on store_case_event names store_case (0002). A migration
that changes store_case wraps its operations in these two steps (see 0005, 0006)."""

from django.db import migrations

_NO_DELETE = """CREATE TRIGGER case_event_no_delete BEFORE DELETE ON store_case_event
       WHEN EXISTS (SELECT 1 FROM store_case WHERE id = OLD.case_id)
       BEGIN SELECT RAISE(ABORT, 'case events are append-only: delete refused'); END"""


def _on_sqlite(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(sql)

    return run


_drop = _on_sqlite("DROP TRIGGER case_event_no_delete")
_create = _on_sqlite(_NO_DELETE)


def lift_case_event_trigger():
    return migrations.RunPython(_drop, _create)


def restore_case_event_trigger():
    return migrations.RunPython(_create, _drop)
