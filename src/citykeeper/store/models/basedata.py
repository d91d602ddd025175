"""Spatial base data (基础数据): components, responsibility grids, the gazetteer, routing
rules, and the version counter that tells every process when to rebuild its indexes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.routing import RuleKind, Step
from citykeeper.store.models.codebook import Category
from citykeeper.store.models.org import Area, Unit


class ComponentState(models.TextChoices):
    """管理部件状态 (GB/T 47678.5-2026 GLBJZT)."""

    INTACT = "intact", _("完好")
    DAMAGED = "damaged", _("破损")
    LOST = "lost", _("丢失")
    ABANDONED = "abandoned", _("废弃")
    REMOVED = "removed", _("移除")


class GeometryKind(models.TextChoices):
    POINT = "point", _("点")
    LINE = "line", _("线")
    POLYGON = "polygon", _("面")


class Component(models.Model):
    """管理部件: one surveyed object with its ID card (GB/T 47678.5-2026 表2).

    ``code`` is 17 digits (6 admin + 2 major + 3 minor + 6 sequence, GB/T 47678.5-2026)
    or the legacy 16 (6 + 2 + 2 + 6, CJ/T 214 / GB/T 30428.2); ``lon``/``lat`` is the
    point, or a point on the line or polygon, used for locating and the map.
    """

    code = models.CharField(_("部件标识码"), max_length=17, unique=True)
    name = models.CharField(_("部件名称"), max_length=30)
    category = models.ForeignKey(Category, models.PROTECT, related_name="components", verbose_name=_("部件类别"))
    geometry_kind = models.CharField(_("几何类型"), max_length=8, choices=GeometryKind.choices)
    geometry = models.JSONField(_("几何 (GeoJSON, WGS84)"))
    lon = models.FloatField(_("经度"))
    lat = models.FloatField(_("纬度"))
    state = models.CharField(
        _("部件状态"), max_length=10, choices=ComponentState.choices, default=ComponentState.INTACT
    )
    competent_unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("主管部门")
    )
    owner_unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("权属单位")
    )
    maintainer_unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("养护单位")
    )
    grid = models.ForeignKey(Area, models.PROTECT, related_name="components", verbose_name=_("所在单元网格"))
    area_path = models.CharField(_("区域路径"), max_length=200, db_index=True, editable=False)
    surveyed_on = models.DateField(_("初始日期"))
    changed_on = models.DateField(_("变更日期"), null=True, blank=True)
    data_source = models.CharField(_("数据来源"), max_length=30, blank=True)
    note = models.TextField(_("备注"), max_length=1000, blank=True)
    attributes = models.JSONField(_("扩展属性"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    updated_at = models.DateTimeField(_("更新时间"))

    class Meta:
        verbose_name = _("部件")
        verbose_name_plural = _("部件")
        ordering = ["code"]
        indexes = [models.Index(fields=["lon", "lat"], name="component_lonlat_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.code}"


class ComponentVersion(models.Model):
    """One change of a component: who, when, through what, and which fields changed."""

    component = models.ForeignKey(Component, models.CASCADE, related_name="versions", verbose_name=_("部件"))
    version = models.PositiveIntegerField(_("版本"))
    changed_at = models.DateTimeField(_("变更时间"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("变更人")
    )
    via = models.CharField(_("变更途径"), max_length=200)  # "import components.csv", "admin", "api"
    changes = models.JSONField(_("变更内容"), default=dict)  # field → [old, new]; all fields on creation

    class Meta:
        verbose_name = _("部件变更记录")
        verbose_name_plural = _("部件变更记录")
        ordering = ["component", "version"]
        constraints = [models.UniqueConstraint(fields=["component", "version"], name="component_version_unique")]

    def __str__(self) -> str:
        return f"{self.component_id} v{self.version}"


class ResponsibilityGrid(models.Model):
    """责任网格: unit grids grouped for one patrol (an inspector's beat)."""

    code = models.CharField(_("代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    area = models.ForeignKey(Area, models.PROTECT, related_name="responsibility_grids", verbose_name=_("所属区域"))
    geometry = models.JSONField(_("边界 (GeoJSON, WGS84)"))
    area_m2 = models.FloatField(_("面积 (m²)"))
    inspectors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="beats", verbose_name=_("责任监督员")
    )

    class Meta:
        verbose_name = _("责任网格")
        verbose_name_plural = _("责任网格")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class GazetteerKind(models.TextChoices):
    ROAD = "road", _("道路")
    DOORPLATE = "doorplate", _("门牌")
    POI = "poi", _("兴趣点")


class GazetteerEntry(models.Model):
    """地名地址: roads (centre lines), doorplates and points of interest, for describing
    a position the way case sheets do and for finding the point of an address."""

    kind = models.CharField(_("类型"), max_length=10, choices=GazetteerKind.choices)
    name = models.CharField(_("名称"), max_length=100)  # road name, POI name; a doorplate's road
    number = models.CharField(_("门牌号"), max_length=20, blank=True)
    poi_kind = models.CharField(_("兴趣点类别"), max_length=30, blank=True)
    geometry = models.JSONField(_("几何 (GeoJSON, WGS84)"))
    lon = models.FloatField(_("经度"))
    lat = models.FloatField(_("纬度"))

    class Meta:
        verbose_name = _("地名地址")
        verbose_name_plural = _("地名地址")
        ordering = ["kind", "name", "number"]
        indexes = [models.Index(fields=["kind", "name"], name="gazetteer_kind_name_idx")]

    def __str__(self) -> str:
        return f"{self.name}{self.number and self.number + '号'}"


RULE_KIND_LABELS = {RuleKind.AREA_CATEGORY: _("区域×类别"), RuleKind.CATEGORY_DEFAULT: _("类别默认")}
ROUTING_STEP_LABELS = {
    Step.COMPONENT_MAINTAINER: _("部件养护单位"),
    Step.COMPONENT_OWNER: _("部件权属单位"),
    Step.AREA_CATEGORY: _("区域×类别规则"),
    Step.CATEGORY_DEFAULT: _("类别默认规则"),
    Step.TRIAGE: _("无匹配规则，待分拣"),
}


class RoutingRule(models.Model):
    """确权规则: which unit a case goes to. Kinds are tried in their fixed order (see
    ``domain.routing``); within a kind the most specific area wins, then the lower
    priority number. The component's own units come first and need no rule row."""

    kind = models.CharField(_("规则类型"), max_length=20, choices=list(RULE_KIND_LABELS.items()))
    area = models.ForeignKey(
        Area, models.CASCADE, null=True, blank=True, related_name="routing_rules", verbose_name=_("区域")
    )
    category = models.ForeignKey(Category, models.CASCADE, related_name="routing_rules", verbose_name=_("类别"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="routing_rules", verbose_name=_("责任单位"))
    priority = models.PositiveSmallIntegerField(_("优先级"), default=100, help_text=_("数字小者优先"))
    active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("确权规则")
        verbose_name_plural = _("确权规则")
        ordering = ["kind", "priority", "id"]

    def __str__(self) -> str:
        where = self.area.name if self.area_id else _("全市")
        return f"{where} × {self.category.minor_name} → {self.unit.name}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.kind == RuleKind.AREA_CATEGORY and self.area_id is None:
            raise ValidationError({"area": _("区域×类别规则必须指定区域。")})
        if self.kind == RuleKind.CATEGORY_DEFAULT and self.area_id is not None:
            raise ValidationError({"area": _("类别默认规则适用于全市，不能指定区域。")})


class BaseDataVersion(models.Model):
    """One row whose counter moves whenever grids, components or the gazetteer change;
    each process compares it with the version its indexes were built from."""

    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("基础数据版本")
        verbose_name_plural = _("基础数据版本")

    def __str__(self) -> str:
        return f"v{self.version}"
