"""Open311 client keys: who may POST service requests, and how fast."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Open311Key(models.Model):
    """An ``api_key`` for an Open311 client (an app, a partner city's system).

    Only the SHA-256 of the key is stored, with its first characters to tell keys apart.
    ``window_start``/``window_count`` count this minute's requests for the rate limit.
    """

    name = models.CharField(_("客户端名称"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("前缀"), max_length=12)
    rate_per_minute = models.PositiveIntegerField(_("每分钟请求上限"), default=60)
    created_at = models.DateTimeField(_("创建时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("Open311 客户端密钥")
        verbose_name_plural = _("Open311 客户端密钥")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Device(models.Model):
    """A camera, video-analytics box or IoT sensor that reports events (视频/物联感知)."""

    code = models.CharField(_("设备编码"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(
        _("类型"), max_length=10, choices=[("camera", _("视频监控")), ("sensor", _("物联传感器"))], default="camera"
    )
    lon = models.FloatField(_("经度"))
    lat = models.FloatField(_("纬度"))
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("前缀"), max_length=12)
    fold_minutes = models.PositiveIntegerField(_("合并时间窗（分钟）"), default=30)
    fold_radius_m = models.PositiveIntegerField(_("合并半径（米）"), default=30)
    min_confidence = models.FloatField(_("最低置信度"), default=0.5)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("感知设备")
        verbose_name_plural = _("感知设备")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class DeviceEventType(models.Model):
    """Which case category a device's event type (e.g. "garbage_overflow") becomes."""

    event_type = models.CharField(_("事件类型"), max_length=50, unique=True)
    category = models.ForeignKey("store.Category", models.PROTECT, related_name="+", verbose_name=_("案件类别"))

    class Meta:
        verbose_name = _("设备事件类型")
        verbose_name_plural = _("设备事件类型")
        ordering = ["event_type"]

    def __str__(self) -> str:
        return self.event_type


class DeviceEvent(models.Model):
    """One event a device sent, folded into the pending case it belongs to."""

    device = models.ForeignKey(Device, models.CASCADE, related_name="events", verbose_name=_("设备"))
    event_type = models.CharField(_("事件类型"), max_length=50)
    at = models.DateTimeField(_("发生时间"))
    received_at = models.DateTimeField(_("接收时间"))
    confidence = models.FloatField(_("置信度"))
    lon = models.FloatField(_("经度"))
    lat = models.FloatField(_("纬度"))
    case = models.ForeignKey("store.Case", models.PROTECT, related_name="device_events", verbose_name=_("案件"))
    new_case = models.BooleanField(_("新建案件"), default=False)

    class Meta:
        verbose_name = _("设备事件")
        verbose_name_plural = _("设备事件")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.device_id} {self.event_type} {self.at:%Y-%m-%d %H:%M}"
