"""Refuse UPDATE and DELETE of case events in the database itself.

The model already refuses them; these triggers stop raw SQL and other clients too.
Deleting an event is allowed only once its case is gone, which only happens when a
whole (test) database is flushed: cases are protected by the event foreign key.
"""

from django.db import migrations

SQLITE = [
    """CREATE TRIGGER case_event_no_update BEFORE UPDATE ON store_case_event
       BEGIN SELECT RAISE(ABORT, 'case events are append-only: update refused'); END""",
    """CREATE TRIGGER case_event_no_delete BEFORE DELETE ON store_case_event
       WHEN EXISTS (SELECT 1 FROM store_case WHERE id = OLD.case_id)
       BEGIN SELECT RAISE(ABORT, 'case events are append-only: delete refused'); END""",
]
SQLITE_REVERSE = ["DROP TRIGGER case_event_no_update", "DROP TRIGGER case_event_no_delete"]

POSTGRES = [
    """CREATE FUNCTION store_case_event_append_only() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM store_case WHERE id = OLD.case_id) THEN
           RETURN OLD;
         END IF;
         RAISE EXCEPTION 'case events are append-only: %% refused', lower(TG_OP);
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON store_case_event
       FOR EACH ROW EXECUTE FUNCTION store_case_event_append_only()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER case_event_append_only ON store_case_event",
    "DROP FUNCTION store_case_event_append_only()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("store", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRES_REVERSE}),
        )
    ]
