"""The 督办件 queue (urged open cases, ordered by deadline) read through a partial index:
with a million cases it otherwise reads every open case to keep the few urged ones
(bench/console.py: 50 ms → 5 ms on SQLite, 17 ms → 2 ms on PostgreSQL)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0014_console_receive_saved_filters"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("urge_count__gt", 0)),
                fields=["state", "stage_deadline_at", "id"],
                name="case_urged_idx",
            ),
        ),
    ]
