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
