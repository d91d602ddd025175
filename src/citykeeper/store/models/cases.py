"""Cases, their append-only event log, attachments and API tokens."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.workflow import TERMINAL_STATES, State
from citykeeper.store.querysets import AppendOnlyError, CaseQuerySet, EventQuerySet


class Source(models.TextChoices):
    INSPECTOR = "inspector", _("监督员上报")
    CITIZEN = "citizen", _("公众举报")
    HOTLINE = "hotline", _("热线 12319/12345")
    CAMERA = "camera", _("视频/物联感知")
    LEADER = "leader", _("领导交办")
    OPEN311 = "open311", _("Open311 接口")
    WEB = "web", _("网站门户")
    IMPORT = "import", _("历史导入")


STATE_LABELS = {
    State.REPORTED: _("待受理"),
    State.VERIFYING: _("核实中"),
    State.VERIFIED: _("已核实"),
    State.SELF_DISPOSED: _("自行处置待结案"),
    State.ACCEPTED: _("待立案"),
    State.FILED: _("待派遣"),
    State.DISPATCHED: _("处置中"),
    State.RETURN_REQUESTED: _("回退申请中"),
    State.EXTENSION_REQUESTED: _("延期申请中"),
    State.SUSPENSION_REQUESTED: _("挂账申请中"),
    State.SUSPENDED: _("挂账/缓办"),
    State.DISPOSED: _("待派核查"),
    State.CHECKING: _("核查中"),
    State.CHECK_FAILED: _("核查未通过"),
    State.CHECKED: _("待结案"),
    State.CLOSED: _("已结案"),
    State.REOPENED: _("市民反映未解决"),
    State.REJECTED: _("不予受理"),
    State.VOIDED: _("已作废"),
    State.MERGED: _("已合并"),
}


class Case(models.Model):
    number = models.CharField(_("案卷号"), max_length=20, unique=True)
    city_code = models.CharField(_("城市代码"), max_length=6)
    state = models.CharField(
        _("状态"), max_length=24, choices=[(s.value, STATE_LABELS[s]) for s in State], default=State.REPORTED
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    source = models.CharField(_("来源"), max_length=12, choices=Source.choices)
    # Which client, device or desk within the channel (an Open311 client's name, a camera id).
    source_detail = models.CharField(_("来源详情"), max_length=100, blank=True)
    category = models.ForeignKey("store.Category", models.PROTECT, related_name="cases", verbose_name=_("类别"))
    condition = models.ForeignKey(
        "store.FilingCondition", models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("立案条件")
    )
    description = models.TextField(_("问题描述"), blank=True)
    address = models.CharField(_("事发位置"), max_length=256, blank=True)
    lon = models.FloatField(_("经度"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    area = models.ForeignKey("store.Area", models.PROTECT, related_name="cases", verbose_name=_("所在区域"))
    area_path = models.CharField(_("区域路径"), max_length=200, db_index=True, editable=False)
    area_class = models.CharField(_("区域类别"), max_length=1, blank=True)
    urgent = models.BooleanField(_("紧急"), default=False)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="reported_cases",
        verbose_name=_("上报人"),
    )
    reporter_name = models.CharField(_("上报人姓名"), max_length=50, blank=True)
    reporter_phone = models.CharField(_("上报人电话"), max_length=30, blank=True)
    unit = models.ForeignKey(
        "store.Unit", models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("责任单位")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("任务监督员"),
    )
    verification_found = models.BooleanField(_("核实属实"), null=True, blank=True)
    component = models.ForeignKey(
        "store.Component", models.PROTECT, null=True, blank=True, related_name="cases", verbose_name=_("涉及部件")
    )
    # 确权: the unit routing proposed when the case was filed, and which step chose it.
    proposed_unit = models.ForeignKey(
        "store.Unit", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("建议责任单位")
    )
    routing_step = models.CharField(_("确权依据"), max_length=24, blank=True)
    routing_rule = models.ForeignKey(
        "store.RoutingRule", models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("确权规则")
    )
    merged_into = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="merged_cases", verbose_name=_("合并至")
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=64, null=True, blank=True, unique=True)

    # The running stage clock (see domain.clock.StageClock).
    stage = models.CharField(_("环节"), max_length=10, blank=True)
    stage_started_at = models.DateTimeField(_("环节开始"), null=True, blank=True)
    stage_deadline_at = models.DateTimeField(_("环节截止"), null=True, blank=True)
    stage_warn_at = models.DateTimeField(_("预警时间"), null=True, blank=True)
    stage_limit_seconds = models.BigIntegerField(_("环节时限（秒）"), null=True, blank=True)
    stage_around_the_clock = models.BooleanField(_("24小时计时"), default=False)
    stage_remaining_seconds = models.BigIntegerField(_("挂起剩余（秒）"), null=True, blank=True)
    stage_warned = models.BooleanField(_("已预警"), default=False)
    stage_overdue = models.BooleanField(_("已超期"), default=False)
    # The earliest instant the ticker must look at this case; NULL when nothing is due.
    next_deadline_at = models.DateTimeField(_("下次检查"), null=True, blank=True)

    # The head of the event chain: the last event's seq and hash. Moves append from it
    # without reading the log, and ``verify`` compares it with the log's last event, so
    # removing the newest events is as visible as altering older ones.
    chain_seq = models.PositiveIntegerField(_("事件数"), default=0, editable=False)
    chain_head = models.CharField(_("链头哈希"), max_length=64, blank=True, editable=False)

    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    return_count = models.PositiveSmallIntegerField(_("回退次数"), default=0)
    extension_count = models.PositiveSmallIntegerField(_("延期次数"), default=0)
    suspension_count = models.PositiveSmallIntegerField(_("挂账次数"), default=0)
    urge_count = models.PositiveSmallIntegerField(_("督办次数"), default=0)

    reported_at = models.DateTimeField(_("上报时间"))
    filed_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    # 签收: the unit has seen the dispatch (cleared by every new dispatch or rework).
    received_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"))

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        ordering = ["-reported_at"]
        indexes = [
            models.Index(fields=["lon", "lat"], name="case_lonlat_idx"),  # map views by box
            # The ticker's only query: what is due. Partial, so it stays as small as
            # the set of open cases with a running clock (healthchecks' pattern).
            models.Index(
                fields=["next_deadline_at"],
                name="case_due_idx",
                condition=models.Q(next_deadline_at__isnull=False),
            ),
            models.Index(fields=["state", "reported_at"], name="case_state_idx"),
            models.Index(fields=["unit", "state"], name="case_unit_state_idx"),
            # The work queues: one state, ordered by the running stage's deadline.
            models.Index(fields=["state", "stage_deadline_at", "id"], name="case_state_deadline_idx"),
            # 督办件: the urged open cases, among the tens of thousands of open ones (bench/console.py).
            models.Index(
                fields=["state", "stage_deadline_at", "id"],
                name="case_urged_idx",
                condition=models.Q(urge_count__gt=0),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return State(self.state) not in TERMINAL_STATES


def _utc(instant):
    # The database hands instants back in UTC whatever zone they were written in;
    # the hash must cover the instant, not its spelling.
    return instant.astimezone(dt.UTC).isoformat() if instant else None


class CaseEvent(models.Model):
    """One row per thing that happened to a case. Never updated, never deleted.

    The model refuses updates and deletes; database triggers (migration 0002)
    refuse them from raw SQL too; and ``hash`` chains the rows per case so that
    whoever bypasses both is found by ``citykeeper verify``.
    """

    case = models.ForeignKey(Case, models.PROTECT, related_name="events", verbose_name=_("案件"))
    seq = models.PositiveIntegerField(_("序号"))
    kind = models.CharField(_("事件"), max_length=30)
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("操作人")
    )
    actor_name = models.CharField(_("操作人姓名"), max_length=150, blank=True)
    actor_role = models.CharField(_("角色"), max_length=20, blank=True)
    from_state = models.CharField(_("原状态"), max_length=24, blank=True)
    to_state = models.CharField(_("新状态"), max_length=24, blank=True)
    stage = models.CharField(_("新环节"), max_length=10, blank=True)
    stage_deadline_at = models.DateTimeField(_("新环节截止"), null=True, blank=True)
    outcome = models.JSONField(_("环节结果"), null=True, blank=True)
    reason = models.TextField(_("理由/意见"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    attachments = models.JSONField(_("附件"), default=list, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = EventQuerySet.as_manager()

    class Meta:
        db_table = "store_case_event"
        verbose_name = _("案件事件")
        verbose_name_plural = _("案件事件")
        ordering = ["case_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq_unique")]
        indexes = [models.Index(fields=["kind", "at"], name="case_event_kind_at_idx")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Case events are append-only: an event cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Case events are append-only: an event cannot be deleted.")

    def chain_content(self) -> dict[str, object]:
        """What the hash covers: every field that states a fact."""
        return {
            "case": self.case.number,
            "seq": self.seq,
            "kind": self.kind,
            "at": _utc(self.at),
            "actor": self.actor_id,
            "actor_name": self.actor_name,
            "actor_role": self.actor_role,
            "from": self.from_state,
            "to": self.to_state,
            "stage": self.stage,
            "stage_deadline_at": _utc(self.stage_deadline_at),
            "outcome": self.outcome,
            "reason": self.reason,
            "data": self.data,
            "attachments": self.attachments,
        }


class Attachment(models.Model):
    case = models.ForeignKey(Case, models.PROTECT, related_name="attachment_set", verbose_name=_("案件"))
    file = models.FileField(_("文件"), upload_to="cases/%Y/%m/")
    content_type = models.CharField(_("类型"), max_length=100)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField(_("大小"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"))
    # For public views: upright, at most 2048 px, without any metadata (no GPS, no camera).
    public_file = models.FileField(_("公开版本"), upload_to="cases/%Y/%m/", blank=True)
    thumbnail = models.FileField(_("缩略图"), upload_to="cases/%Y/%m/", blank=True)
    width = models.PositiveIntegerField(_("宽度"), null=True, blank=True)
    height = models.PositiveIntegerField(_("高度"), null=True, blank=True)
    # Shown on the public map and to other citizens only after a member of staff has looked
    # at it: photos from the street can show faces and number plates.
    published_at = models.DateTimeField(_("公开时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("公开审核人")
    )

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return self.file.name


class CaseNumberCounter(models.Model):
    city_code = models.CharField(max_length=6)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["city_code", "day"], name="case_counter_unique")]

    def __str__(self) -> str:
        return f"{self.city_code} {self.day} #{self.last}"


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens", verbose_name=_("用户")
    )
    name = models.CharField(_("名称"), max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("前缀"), max_length=8)
    created_at = models.DateTimeField(_("创建时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class FollowLink(models.Model):
    """The reporter's private link to follow a case (no account needed). Only the SHA-256 of
    the token is stored; the link is shown once, when the case is reported."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="follow_links", verbose_name=_("案件"))
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"))

    class Meta:
        verbose_name = _("跟踪链接")
        verbose_name_plural = _("跟踪链接")

    def __str__(self) -> str:
        return f"{self.case.number} {self.token_hash[:8]}"


class RateCounter(models.Model):
    """Requests counted per key (an address, a client) and fixed window, to stop flooding.
    One row per key; the window restarts when it has passed."""

    key = models.CharField(max_length=100, unique=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("限流计数")
        verbose_name_plural = _("限流计数")

    def __str__(self) -> str:
        return f"{self.key}: {self.count}"
