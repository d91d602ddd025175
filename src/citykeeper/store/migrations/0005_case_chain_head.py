from django.db import migrations, models

from citykeeper.store.migrations._triggers import lift_case_event_trigger, restore_case_event_trigger

# SQLite adds these NOT NULL columns by rebuilding store_case: see _triggers.


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
        lift_case_event_trigger(),
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
        restore_case_event_trigger(),
        migrations.RunPython(fill_chain_heads, migrations.RunPython.noop),
    ]
