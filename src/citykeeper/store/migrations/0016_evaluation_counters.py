"""Evaluation counters (day and month sums kept as events are written), what each case
last contributed to them, and the key-problem (重点问题) flag of categories."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("store", "0015_case_urged_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="CaseContribution",
            fields=[
                (
                    "case",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="evaluation_contribution",
                        serialize=False,
                        to="store.case",
                        verbose_name="案件",
                    ),
                ),
                ("contributions", models.JSONField(default=list, verbose_name="计数贡献")),
            ],
            options={
                "verbose_name": "案件计数贡献",
                "verbose_name_plural": "案件计数贡献",
                "db_table": "store_case_contribution",
            },
        ),
        migrations.AddField(
            model_name="category",
            name="key_problem",
            field=models.BooleanField(
                default=False,
                help_text="评价方案的重点问题倍数只作用于这些类别；修改后需运行 citykeeper evaluate --rebuild",
                verbose_name="重点问题",
            ),
        ),
        migrations.CreateModel(
            name="EvaluationCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "grain",
                    models.CharField(choices=[("day", "日"), ("month", "月")], max_length=5, verbose_name="粒度"),
                ),
                ("period_start", models.DateField(verbose_name="期间开始")),
                ("counter", models.CharField(max_length=32, verbose_name="计数项")),
                ("subject_kind", models.CharField(max_length=12, verbose_name="对象类型")),
                ("subject_id", models.BigIntegerField(verbose_name="对象")),
                ("key", models.BigIntegerField(default=0, verbose_name="重点问题类别")),
                ("value", models.BigIntegerField(default=0, verbose_name="数值")),
            ],
            options={
                "verbose_name": "评价计数",
                "verbose_name_plural": "评价计数",
                "db_table": "store_evaluation_counter",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("grain", "period_start", "counter", "subject_kind", "subject_id", "key"),
                        name="evaluation_counter_unique",
                    )
                ],
            },
        ),
    ]
