"""Areas, responsible units and people."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.workflow import Role


class AreaLevel(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区县")
    STREET = "street", _("街道/乡镇")
    COMMUNITY = "community", _("社区/村")
    GRID = "grid", _("单元网格")


class AreaClass(models.TextChoices):
    A = "A", _("A类（核心区）")
    B = "B", _("B类（一般区）")
    C = "C", _("C类")


class AreaManager(models.Manager):
    """Areas without their boundary unless asked for: a district's GeoJSON is tens of
    kilobytes, and most reads (a case's grid, a user's scope) need only codes and paths."""

    def get_queryset(self):
        return super().get_queryset().defer("geometry")


class Area(models.Model):
    """One node of the area tree: city → district → street office → community → unit grid.

    ``path`` is the chain of codes from the city down ("320300/320302/320302001/…"),
    so "everything inside this district" is one indexed prefix match.
    """

    code = models.CharField(_("代码"), max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=12, choices=AreaLevel.choices)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级")
    )
    path = models.CharField(_("路径"), max_length=200, db_index=True, editable=False)
    area_class = models.CharField(_("区域类别"), max_length=1, choices=AreaClass.choices, blank=True)
    geometry = models.JSONField(_("边界 (GeoJSON, WGS84)"), null=True, blank=True)
    centroid_lon = models.FloatField(_("中心经度"), null=True, blank=True)
    centroid_lat = models.FloatField(_("中心纬度"), null=True, blank=True)
    area_m2 = models.FloatField(_("面积 (m²)"), null=True, blank=True)
    synthetic = models.BooleanField(_("生成数据"), default=False, help_text=_("由生成器划分，非测绘数据"))

    objects = AreaManager()

    class Meta:
        base_manager_name = "objects"  # related access (case.area, user.scope_area) defers too
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def save(self, *args, **kwargs):
        self.path = f"{self.parent.path}/{self.code}" if self.parent_id else self.code
        super().save(*args, **kwargs)


class UnitKind(models.TextChoices):
    DEPARTMENT = "department", _("专业部门")
    STREET_OFFICE = "street_office", _("街道办事处")
    COMPANY = "company", _("企业/产权单位")


class UnitLevel(models.TextChoices):
    CITY = "city", _("市级")
    DISTRICT = "district", _("区级")
    STREET = "street", _("街道级")


class Unit(models.Model):
    """A responsible unit (处置单位): a department, a street office or a company."""

    code = models.CharField(_("代码"), max_length=30, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=UnitKind.choices)
    level = models.CharField(_("级别"), max_length=10, choices=UnitLevel.choices)
    evaluation_group = models.CharField(_("考评分组"), max_length=50, blank=True)
    area = models.ForeignKey(Area, models.PROTECT, null=True, blank=True, related_name="units", verbose_name=_("辖区"))
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("上级单位")
    )
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("责任单位")
        verbose_name_plural = _("责任单位")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person: staff with roles and one scope (an area or a unit), or a citizen."""

    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    phone = models.CharField(_("电话"), max_length=30, blank=True)
    scope_area = models.ForeignKey(
        Area, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("管辖区域")
    )
    scope_unit = models.ForeignKey(
        Unit, models.PROTECT, null=True, blank=True, related_name="members", verbose_name=_("所属单位")
    )

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def roles(self) -> frozenset[Role]:
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            cached = frozenset(Role(r) for r in self.role_grants.values_list("role", flat=True))
            self._roles_cache = cached
        return cached


class RoleGrant(models.Model):
    user = models.ForeignKey(User, models.CASCADE, related_name="role_grants", verbose_name=_("用户"))
    role = models.CharField(
        _("角色"),
        max_length=20,
        choices=[
            (Role.INSPECTOR, _("监督员")),
            (Role.OPERATOR, _("受理员")),
            (Role.SHIFT_LEAD, _("值班长")),
            (Role.DISPATCHER, _("派遣员")),
            (Role.UNIT_HANDLER, _("处置单位人员")),
            (Role.LEADER, _("领导")),
            (Role.EVALUATOR, _("考评员")),
            (Role.ADMIN, _("系统管理员")),
            (Role.CITIZEN, _("市民")),
        ],
    )

    class Meta:
        verbose_name = _("角色")
        verbose_name_plural = _("角色")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="role_grant_unique")]

    def __str__(self) -> str:
        return self.get_role_display()


class SavedFilter(models.Model):
    """A named set of queue filters a user keeps (常用筛选): the queue's slug and the query
    string of its filter form, as the user saved them."""

    user = models.ForeignKey(User, models.CASCADE, related_name="saved_filters", verbose_name=_("用户"))
    queue = models.CharField(_("队列"), max_length=40)
    name = models.CharField(_("名称"), max_length=40)
    query = models.CharField(_("筛选条件"), max_length=4000)
    created_at = models.DateTimeField(_("创建时间"))

    class Meta:
        verbose_name = _("常用筛选")
        verbose_name_plural = _("常用筛选")
        constraints = [models.UniqueConstraint(fields=["user", "queue", "name"], name="saved_filter_unique_name")]

    def __str__(self) -> str:
        return self.name
