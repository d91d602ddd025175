from django.db import migrations, models

# SQLite adds these NOT NULL columns by rebuilding store_case, and the rename at the end
# of the rebuild fails while a trigger on store_case_event names store_case (0002). Drop
# that trigger around the rebuild and put it back unchanged. Any later migration that
# rebuilds store_case on SQLite needs the same two steps.
_NO_DELETE = """CREATE TRIGGER case_event_no_delete BEFORE DELETE ON store_case_event
       WHEN EXISTS (SELECT 1 FROM store_case WHERE id = OLD.case_id)
       BEGIN SELECT RAISE(ABORT, 'case events are append-only: delete refused'); END"""


def _on_sqlite(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(sql)

    return run


drop_trigger = _on_sqlite("DROP TRIGGER case_event_no_delete")
create_trigger = _on_sqlite(_NO_DELETE)


def fill_chain_heads(apps, schema_editor):
    """Cases made before this migration: take the head from each one's last event."""
    Case = apps.get_model("store", "Case")
    CaseEvent = apps.get_model("store", "CaseEvent")
    last = {}
    for case_id, seq, hash_ in CaseEvent.objects.order_by("case_id", "seq").values_list("case_id", "seq", "hash"):
        last[case_id] = (seq, hash_)
    for case_id, (seq, hash_) in last.items():
        Case.objects.filter(pk=case_id).update(chain_seq=seq, chain_head=hash_)


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0004_area_manager"),
    ]

    operations = [
        migrations.RunPython(drop_trigger, create_trigger),
        migrations.AddField(
            model_name="case",
            name="chain_head",
            field=models.CharField(blank=True, editable=False, max_length=64, verbose_name="链头哈希"),
        ),
        migrations.AddField(
            model_name="case",
            name="chain_seq",
            field=models.PositiveIntegerField(default=0, editable=False, verbose_name="事件数"),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
        migrations.RunPython(fill_chain_heads, migrations.RunPython.noop),
    ]
