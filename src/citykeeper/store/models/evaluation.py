"""Evaluation counters: per-day and per-month sums kept as case events are written.

``services.counters`` maintains them from ``domain.evaluation.contributions`` and can
rebuild them from the event log (``citykeeper evaluate --rebuild``) with identical rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from citykeeper.store.querysets import AppendOnlyError


class Grain(models.TextChoices):
    DAY = "day", _("日")
    MONTH = "month", _("月")


class EvaluationCounter(models.Model):
    """One counter's value for one subject in one day or month.

    A month row is the sum of that month's day rows, written in the same statement, so a
    month or a year is read from a few thousand rows instead of every day's. Reading one
    period uses the unique constraint's index, which starts with the period's day. Its
    columns run dates and numbers first: a rebuild builds it over millions of rows, and
    the sort settles most comparisons before it reaches the text columns (2.5× faster
    than with the text first, measured).
    """

    grain = models.CharField(_("粒度"), max_length=5, choices=Grain.choices)
    period_start = models.DateField(_("期间开始"))  # the day, or the 1st of the month
    counter = models.CharField(_("计数项"), max_length=32)
    subject_kind = models.CharField(_("对象类型"), max_length=12)
    subject_id = models.BigIntegerField(_("对象"))  # 0: no one in particular (see contributions)
    key = models.BigIntegerField(_("重点问题类别"), default=0)  # a key problem's category id, else 0
    value = models.BigIntegerField(_("数值"), default=0)

    class Meta:
        db_table = "store_evaluation_counter"
        verbose_name = _("评价计数")
        verbose_name_plural = _("评价计数")
        constraints = [
            models.UniqueConstraint(
                fields=["period_start", "subject_id", "key", "grain", "counter", "subject_kind"],
                name="evaluation_counter_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.grain} {self.period_start} {self.counter} {self.subject_kind}:{self.subject_id} = {self.value}"


class CaseContribution(models.Model):
    """What a case last contributed to the counters, so a new event applies only the
    difference, and what the drill-down lists: text in the form ``services.counters.stored``
    writes, ``"YYYY-MM-DD=counter kind id[ value[ key]],…;…"``."""

    # No foreign-key constraint in the database (Django still deletes the row with its case):
    # this table is derived and rebuilt whole, and a constraint's per-row check costs a
    # year's rebuild minutes, while dropping it for the rebuild would lock the case table.
    case = models.OneToOneField(
        "store.Case",
        models.CASCADE,
        primary_key=True,
        related_name="evaluation_contribution",
        verbose_name=_("案件"),
        db_constraint=False,
    )
    contributions = models.TextField(_("计数贡献"), blank=True, default="")

    class Meta:
        db_table = "store_case_contribution"
        verbose_name = _("案件计数贡献")
        verbose_name_plural = _("案件计数贡献")

    def __str__(self) -> str:
        entries = sum(len(day.split(",")) for day in self.contributions.split(";")) if self.contributions else 0
        return f"case {self.case_id}: {entries} counts"


class CaseSubject(models.Model):
    """Which subjects a case counts for, and between which days: the index the drill-down
    (from a cell of a table to its cases) starts from, kept with ``CaseContribution``."""

    # No database constraint, as for CaseContribution; no index of its own: the unique
    # constraint's index starts with the case.
    case = models.ForeignKey(
        "store.Case", models.CASCADE, related_name="+", verbose_name=_("案件"), db_constraint=False, db_index=False
    )
    subject_kind = models.CharField(_("对象类型"), max_length=12)
    subject_id = models.BigIntegerField(_("对象"))
    first_day = models.DateField(_("最早日期"))
    last_day = models.DateField(_("最晚日期"))

    class Meta:
        db_table = "store_case_subject"
        verbose_name = _("案件评价对象")
        verbose_name_plural = _("案件评价对象")
        # Numbers and dates before the kind's text, as in the counters' key: a year's rebuild
        # builds both over 17 million rows, and this order takes 2-3× less time (measured).
        constraints = [
            models.UniqueConstraint(fields=["case", "subject_id", "subject_kind"], name="case_subject_unique")
        ]
        # The drill-down's: the cases of some subjects whose days reach into a period.
        indexes = [models.Index(fields=["subject_id", "last_day", "subject_kind"], name="case_subject_days_idx")]

    def __str__(self) -> str:
        return f"case {self.case_id} → {self.subject_kind}:{self.subject_id}"


class EvaluationScheme(models.Model):
    """One version of an evaluation scheme (考评方案): indicators, weights, bands, multipliers,
    grades, as ``domain.evaluation.scoring.Scheme.as_dict()``. Never changed once saved: a
    change is a new version, saved with who made it and why (shown on every run that uses it)."""

    code = models.CharField(_("方案代码"), max_length=40)
    version = models.PositiveIntegerField(_("版本"))
    subject = models.CharField(_("评价对象"), max_length=12)
    label = models.CharField(_("名称"), max_length=100)
    definition = models.JSONField(_("方案内容"))
    fingerprint = models.CharField(_("指纹"), max_length=64)
    created_at = models.DateTimeField(_("创建时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("创建人")
    )
    reason = models.TextField(_("修改理由"))

    class Meta:
        db_table = "store_evaluation_scheme"
        verbose_name = _("考评方案")
        verbose_name_plural = _("考评方案")
        ordering = ["code", "-version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="evaluation_scheme_version_unique")]

    def __str__(self) -> str:
        return f"{self.label} v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("A scheme version cannot be changed: save a new version with a reason.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("A scheme version cannot be deleted: runs refer to it.")


class EvaluationRun(models.Model):
    """One evaluation of one period with one scheme version, as the counters stood at
    ``as_of``: the full results as canonical JSON with their sha256. Publishing (公布) gives
    it a snapshot id and freezes it: later edits of cases change new runs, never this one."""

    scheme = models.ForeignKey(EvaluationScheme, models.PROTECT, related_name="runs", verbose_name=_("考评方案"))
    period_kind = models.CharField(_("周期类型"), max_length=8)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    level = models.CharField(_("区域层级"), max_length=10, blank=True)
    as_of = models.DateTimeField(_("数据截至"))
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("计算人")
    )
    provisional = models.BooleanField(_("暂定"), default=False)
    results = models.JSONField(_("结果"))
    checksum = models.CharField(_("校验和"), max_length=64)
    # Filled on publication: every case entry behind every figure (zlib-compressed JSON),
    # so the drill-down of a published run shows the cases as they were counted then.
    cases = models.BinaryField(_("案件明细"), null=True, editable=False)
    snapshot_id = models.CharField(_("公布编号"), max_length=100, null=True, blank=True, unique=True)
    published_at = models.DateTimeField(_("公布时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("公布人")
    )

    class Meta:
        db_table = "store_evaluation_run"
        verbose_name = _("考评结果")
        verbose_name_plural = _("考评结果")
        ordering = ["-period_start", "scheme__code", "-as_of"]
        indexes = [models.Index(fields=["period_start", "period_end"], name="evaluation_run_period_idx")]

    def __str__(self) -> str:
        return f"{self.scheme} {self.period_start}…{self.period_end}"

    def save(self, *args, **kwargs):
        # A run is written once and published once; nothing else may change it afterwards.
        if self.pk is not None:
            stored = EvaluationRun.objects.filter(pk=self.pk).values("snapshot_id", "checksum").first()
            if stored is not None and (stored["snapshot_id"] or stored["checksum"] != self.checksum):
                raise AppendOnlyError("A published evaluation (or its results) cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.snapshot_id:
            raise AppendOnlyError("A published evaluation cannot be deleted.")
        super().delete(*args, **kwargs)


class EvaluationBulletin(models.Model):
    """A monthly bulletin (月度通报) as generated: the Excel and PDF files, the period and the
    published runs it reports (their snapshot ids), for download in the console and, once
    published, on the public page."""

    period_kind = models.CharField(_("周期类型"), max_length=8)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    title = models.CharField(_("标题"), max_length=200)
    snapshot_ids = models.JSONField(_("公布编号"), default=list)
    provisional = models.BooleanField(_("暂定"), default=False)
    xlsx = models.FileField(_("Excel 文件"), upload_to="bulletins/%Y/")
    pdf = models.FileField(_("PDF 文件"), upload_to="bulletins/%Y/")
    created_at = models.DateTimeField(_("生成时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("生成人")
    )

    class Meta:
        db_table = "store_evaluation_bulletin"
        verbose_name = _("考评通报")
        verbose_name_plural = _("考评通报")
        ordering = ["-period_start", "-created_at"]

    def __str__(self) -> str:
        return self.title


# ------------------------------------------------------------------ 抽查 (random re-verification)


class SampleKind(models.TextChoices):
    CASES = "cases", _("结案抽查")
    PATROL = "patrol", _("巡查区域抽查")


class SampleResult(models.TextChoices):
    PENDING = "pending", _("待复核")
    PASSED = "passed", _("合格")
    FAILED = "failed", _("不合格")
    MISSED = "missed", _("发现漏报")


class SamplingRound(models.Model):
    """One random draw (抽查) for one period: the seed, the rule and every candidate it was
    drawn from, so anyone can draw again and get the same items (``domain.evaluation.sampling``).
    Never changed once drawn; rounds of one kind may not overlap in time (no redrawing until
    the sample suits)."""

    kind = models.CharField(_("抽查类型"), max_length=8, choices=SampleKind.choices)
    period_kind = models.CharField(_("周期类型"), max_length=8)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    seed = models.CharField(_("随机种子"), max_length=64)
    rule = models.JSONField(_("抽样规则"))  # {"share": "1/20", "minimum": 2}
    # stratum (unit or inspector id, as text) → candidates (case numbers or grid codes)
    population = models.JSONField(_("抽样总体"))
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("抽取人")
    )
    drawn_at = models.DateTimeField(_("抽取时间"))

    class Meta:
        db_table = "store_sampling_round"
        verbose_name = _("抽查批次")
        verbose_name_plural = _("抽查批次")
        ordering = ["-period_start", "kind", "-drawn_at"]
        # Two people drawing the same period at once: the second is refused here (its index also
        # serves the overlap check).
        constraints = [
            models.UniqueConstraint(fields=["kind", "period_start", "period_end"], name="sampling_round_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start}…{self.period_end}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("A sampling round cannot be changed once drawn.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("A sampling round cannot be deleted: its results feed the evaluation.")


class SamplingItem(models.Model):
    """One drawn case or grid, the unit or inspector it judges, and the result of checking it
    (recorded once, with who, when and a note)."""

    round = models.ForeignKey(SamplingRound, models.PROTECT, related_name="items", verbose_name=_("抽查批次"))
    position = models.PositiveIntegerField(_("抽取顺序"))  # within its stratum, from 1
    case = models.ForeignKey(
        "store.Case", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("案件")
    )
    grid = models.ForeignKey(
        "store.Area", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("网格")
    )
    unit = models.ForeignKey(
        "store.Unit", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("责任单位")
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("监督员")
    )
    day = models.DateField(_("计入日期"))  # the case's closing day; for a grid, the period's last day
    result = models.CharField(_("复核结果"), max_length=8, choices=SampleResult.choices, default=SampleResult.PENDING)
    missed = models.PositiveIntegerField(_("发现漏报数"), default=0)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("复核人")
    )
    checked_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    note = models.TextField(_("复核说明"), blank=True)

    class Meta:
        db_table = "store_sampling_item"
        verbose_name = _("抽查项")
        verbose_name_plural = _("抽查项")
        ordering = ["round_id", "unit_id", "inspector_id", "position"]
        indexes = [models.Index(fields=["day", "result"], name="sampling_item_day_idx")]

    def __str__(self) -> str:
        return f"{self.round_id}/{self.position}: {self.result}"

    def save(self, *args, **kwargs):
        # A result is recorded once: the only change an item may see is from pending to a result.
        if self.pk is not None:
            stored = SamplingItem.objects.filter(pk=self.pk).values_list("result", flat=True).first()
            if stored is not None and stored != SampleResult.PENDING:
                raise AppendOnlyError("A recorded re-check result cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("A sampled item cannot be deleted.")


# ------------------------------------------------------------------ inspection contractors


class InspectionContractor(models.Model):
    """A company the city contracts for inspection (监督员外包公司). Its inspectors work for it
    over dated spans (``ContractorMembership``); it is evaluated on their counters."""

    code = models.CharField(_("代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    contract_start = models.DateField(_("合同开始"))
    contract_end = models.DateField(_("合同结束"), null=True, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        db_table = "store_inspection_contractor"
        verbose_name = _("监督员外包公司")
        verbose_name_plural = _("监督员外包公司")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ContractorMembership(models.Model):
    """An inspector working for a contractor from ``start`` to ``end`` (inclusive; open-ended
    while ``end`` is empty). An inspector works for one contractor at a time."""

    contractor = models.ForeignKey(
        InspectionContractor, models.PROTECT, related_name="memberships", verbose_name=_("外包公司")
    )
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="contractor_memberships", verbose_name=_("监督员")
    )
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"), null=True, blank=True)

    class Meta:
        db_table = "store_contractor_membership"
        verbose_name = _("外包监督员")
        verbose_name_plural = _("外包监督员")
        ordering = ["contractor_id", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="contractor_membership_dates",
            )
        ]

    def __str__(self) -> str:
        # Read in admin titles and messages, one object at a time: names, not ids.
        person = self.inspector.display_name or self.inspector.username
        return f"{person} · {self.contractor.name} · {self.start}–{self.end or ''}"


# ------------------------------------------------------------------ manual adjustments


class EvaluationAdjustment(models.Model):
    """A manual adjustment (人工调整) of one subject's composite (``indicator`` empty) or of one
    scored item's 分值, for one scheme and period, with who and why. Append-only: withdrawing
    one is a new row pointing at it (``withdraws``), with its own who and why."""

    scheme_code = models.CharField(_("方案代码"), max_length=40)
    period_kind = models.CharField(_("周期类型"), max_length=8)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    level = models.CharField(_("区域层级"), max_length=10, blank=True)
    subject_id = models.BigIntegerField(_("评价对象"))
    indicator = models.CharField(_("指标"), max_length=40, blank=True)  # "": the composite
    points = models.DecimalField(_("调整分值"), max_digits=5, decimal_places=2)
    reason = models.TextField(_("调整理由"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("调整人")
    )
    created_at = models.DateTimeField(_("调整时间"))
    withdraws = models.OneToOneField(
        "self", models.PROTECT, null=True, blank=True, related_name="withdrawal", verbose_name=_("撤销的调整")
    )

    class Meta:
        db_table = "store_evaluation_adjustment"
        verbose_name = _("人工调整")
        verbose_name_plural = _("人工调整")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["scheme_code", "period_start", "period_end"], name="evaluation_adjustment_idx")]

    def __str__(self) -> str:
        return f"{self.scheme_code} {self.period_start} {self.subject_id} {self.points:+}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("An adjustment cannot be changed: withdraw it and add another.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("An adjustment cannot be deleted: withdraw it.")
