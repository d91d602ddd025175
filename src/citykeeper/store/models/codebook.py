"""The codebook: categories (部件/事件), filing and closing conditions, time limits."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.clock import LimitUnit
from citykeeper.domain.workflow import Stage


class Standard(models.TextChoices):
    GB_47678 = "GB/T 47678.5-2026", _("GB/T 47678.5-2026（现行国标）")
    LEGACY = "CJ/T 214-2007 / GB/T 30428.2-2013", _("CJ/T 214-2007 / GB/T 30428.2-2013（旧编码）")
    LOCAL = "local", _("本地扩展")


class Kind(models.TextChoices):
    COMPONENT = "component", _("部件")
    EVENT = "event", _("事件")


LIMIT_UNIT_CHOICES = [
    (LimitUnit.MINUTES, _("分钟")),
    (LimitUnit.NATURAL_HOURS, _("自然小时（紧急工作时）")),
    (LimitUnit.WORK_HOURS, _("工作时")),
    (LimitUnit.WORK_DAYS, _("工作日")),
    (LimitUnit.NATURAL_DAYS, _("自然日")),
]

STAGE_CHOICES = [
    (Stage.ACCEPT, _("受理")),
    (Stage.VERIFY, _("核实")),
    (Stage.FILE, _("立案")),
    (Stage.DISPATCH, _("派遣")),
    (Stage.DISPOSE, _("处置")),
    (Stage.CHECK, _("核查")),
    (Stage.CLOSE, _("结案")),
]


class Category(models.Model):
    standard = models.CharField(_("标准"), max_length=40, choices=Standard.choices, default=Standard.GB_47678)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    major_code = models.CharField(_("大类代码"), max_length=4)
    major_name = models.CharField(_("大类名称"), max_length=50)
    minor_code = models.CharField(_("小类代码"), max_length=8)
    minor_name = models.CharField(_("小类名称"), max_length=80)
    code_status = models.CharField(_("代码来源"), max_length=80, blank=True)
    emergency = models.BooleanField(_("应急类（24小时计时）"), default=False)
    # Reports of this category this close in place and time are offered as possible duplicates.
    duplicate_radius_m = models.PositiveIntegerField(_("疑似重复半径（米）"), default=50)
    duplicate_window_hours = models.PositiveIntegerField(_("疑似重复时间窗（小时）"), default=72)
    active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)
    key_problem = models.BooleanField(
        _("重点问题"),
        default=False,
        help_text=_("评价方案的重点问题倍数只作用于这些类别；修改后需运行 citykeeper evaluate --rebuild"),
    )

    class Meta:
        verbose_name = _("案件类别")
        verbose_name_plural = _("案件类别")
        ordering = ["standard", "kind", "minor_code"]
        constraints = [models.UniqueConstraint(fields=["standard", "kind", "minor_code"], name="category_code_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.minor_code} {self.minor_name}"

    @property
    def is_local_extension(self) -> bool:
        return self.standard == Standard.LOCAL


class ClosingCondition(models.Model):
    category = models.ForeignKey(Category, models.CASCADE, related_name="closing_conditions", verbose_name=_("类别"))
    text = models.CharField(_("结案条件"), max_length=300)

    class Meta:
        verbose_name = _("结案条件")
        verbose_name_plural = _("结案条件")
        constraints = [models.UniqueConstraint(fields=["category", "text"], name="closing_condition_unique")]

    def __str__(self) -> str:
        return self.text


class FilingCondition(models.Model):
    """立案条件: one row per (category, condition) with its disposal limit (处置时限)."""

    category = models.ForeignKey(Category, models.CASCADE, related_name="filing_conditions", verbose_name=_("类别"))
    seq = models.PositiveSmallIntegerField(_("序号"), default=1)
    text = models.CharField(_("立案条件"), max_length=300)
    limit_value = models.FloatField(_("处置时限"))
    limit_unit = models.CharField(_("时限单位"), max_length=20, choices=LIMIT_UNIT_CHOICES)
    urgent = models.BooleanField(_("紧急"), default=False)
    closing_condition = models.ForeignKey(
        ClosingCondition,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="filing_conditions",
        verbose_name=_("结案条件"),
    )
    limit_text_raw = models.CharField(_("原始时限文本"), max_length=100, blank=True)
    source = models.CharField(_("来源"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("立案条件")
        verbose_name_plural = _("立案条件")
        ordering = ["category", "seq"]
        constraints = [models.UniqueConstraint(fields=["category", "seq"], name="filing_condition_seq_unique")]

    def __str__(self) -> str:
        return self.text


class DisposalLimit(models.Model):
    """An area-class override of a filing condition's disposal limit (A/B/C)."""

    condition = models.ForeignKey(
        FilingCondition, models.CASCADE, related_name="area_limits", verbose_name=_("立案条件")
    )
    area_class = models.CharField(_("区域类别"), max_length=1, choices=[("A", "A"), ("B", "B"), ("C", "C")])
    limit_value = models.FloatField(_("处置时限"))
    limit_unit = models.CharField(_("时限单位"), max_length=20, choices=LIMIT_UNIT_CHOICES)

    class Meta:
        verbose_name = _("分区处置时限")
        verbose_name_plural = _("分区处置时限")
        constraints = [models.UniqueConstraint(fields=["condition", "area_class"], name="disposal_limit_unique")]

    def __str__(self) -> str:
        return f"{self.area_class}: {self.limit_value:g} {self.get_limit_unit_display()}"


class StageLimit(models.Model):
    """环节时限 for the stages other than disposal (disposal comes from the conditions)."""

    stage = models.CharField(_("环节"), max_length=10, choices=STAGE_CHOICES, unique=True)
    limit_value = models.FloatField(_("时限"))
    limit_unit = models.CharField(_("时限单位"), max_length=20, choices=LIMIT_UNIT_CHOICES)
    warn_ratio = models.FloatField(_("预警比例"), default=0.8, help_text=_("用时达到时限的该比例时发出预警"))

    class Meta:
        verbose_name = _("环节时限")
        verbose_name_plural = _("环节时限")

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.limit_value:g} {self.get_limit_unit_display()}"
