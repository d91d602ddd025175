"""The working calendar: weekly hours and the day rows that are the source of truth."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

WEEKDAYS = [
    (0, _("星期一")),
    (1, _("星期二")),
    (2, _("星期三")),
    (3, _("星期四")),
    (4, _("星期五")),
    (5, _("星期六")),
    (6, _("星期日")),
]


class WorkPeriodRow(models.Model):
    weekday = models.PositiveSmallIntegerField(_("星期"), choices=WEEKDAYS)
    start = models.TimeField(_("开始"))
    end = models.TimeField(_("结束"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("工作时段")
        verbose_name_plural = _("工作时段")
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class CalendarDay(models.Model):
    """A holiday (is_workday False) or a swapped workday (调休, is_workday True)."""

    day = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("工作日"))
    name = models.CharField(_("名称"), max_length=50, blank=True)
    source = models.CharField(_("来源"), max_length=50, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("节假日/调休")
        verbose_name_plural = _("节假日/调休")
        ordering = ["day"]

    def __str__(self) -> str:
        kind = _("调休上班") if self.is_workday else _("放假")
        return f"{self.day} {kind} {self.name}"


class CalendarYear(models.Model):
    """A year whose holidays have been entered; deadlines may only reach such years."""

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    source = models.CharField(_("来源"), max_length=100, blank=True)
    confirmed_by = models.CharField(_("确认人"), max_length=50, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("日历年度")
        verbose_name_plural = _("日历年度")
        ordering = ["year"]

    def __str__(self) -> str:
        return str(self.year)
