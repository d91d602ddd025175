"""The Django admin: configuration screens, and a read-only view of cases and their events.

Configuration tables (codebook, time limits, calendar, areas, units, users and roles)
are edited here directly. Cases and case events are never changed here: every change
of a case is a lifecycle service call (``citykeeper.services.cases``) that writes an
event, so their admins grant no add, change or delete permission, even to superusers.
"""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.workflow import Role
from citykeeper.services import calendar as calendar_service
from citykeeper.store.models import (
    ApiToken,
    Area,
    CalendarDay,
    CalendarYear,
    Case,
    CaseEvent,
    Category,
    ClosingCondition,
    ContractorMembership,
    DisposalLimit,
    FilingCondition,
    InspectionContractor,
    RoleGrant,
    StageLimit,
    Unit,
    User,
    WorkPeriodRow,
)
from citykeeper.store.models.calendar import WEEKDAYS
from citykeeper.store.models.cases import STATE_LABELS

ROLE_LABELS = dict(RoleGrant._meta.get_field("role").choices)

admin.site.site_header = _("城市管家 管理后台")
admin.site.site_title = _("城市管家 管理后台")
admin.site.index_title = _("系统配置")
admin.site.index_template = "admin/citykeeper/index.html"


# --------------------------------------------------------------------------- calendar warning


def _today() -> dt.date:
    """Today in the city's time zone (a function so that tests can freeze it)."""
    return timezone.localdate()


def calendar_warning() -> dict[str, object] | None:
    """The warning shown while this or next year has no holiday rows, else None."""
    years = calendar_service.missing_years(_today())
    if not years:
        return None
    return {
        "years": years,
        "text": gettext(
            "日历缺少 %(years)s 年的节假日数据：截止时间计算到该年时将被拒绝。"
            "请在“节假日/调休”中录入该年的放假和调休安排，并在“日历年度”中确认。"
        )
        % {"years": gettext("、").join(str(y) for y in years)},
        "day_url": reverse("admin:store_calendarday_changelist"),
        "year_url": reverse("admin:store_calendaryear_changelist"),
    }


# The stock AdminSite.index takes an ``extra_context`` the URL never passes; this
# wrapper supplies the calendar warning. (The URLs are built after this module is
# imported by admin autodiscovery, so they pick the wrapper up.)
_stock_index = admin.site.index


def _index_with_calendar_warning(request: HttpRequest, extra_context: dict | None = None):
    context = {"calendar_warning": calendar_warning(), **(extra_context or {})}
    return _stock_index(request, extra_context=context)


admin.site.index = _index_with_calendar_warning


class CalendarAdminMixin:
    """Calendar edits take effect in this process at once (and again after commit).

    ``working_calendar()`` caches per process; invalidating right away covers this
    request, invalidating on commit covers a rebuild by another thread that read the
    rows before the transaction committed.
    """

    change_list_template = "admin/citykeeper/calendar_change_list.html"

    @staticmethod
    def _invalidate() -> None:
        calendar_service.invalidate()
        transaction.on_commit(calendar_service.invalidate)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._invalidate()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._invalidate()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        self._invalidate()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        self._invalidate()

    def changelist_view(self, request, extra_context=None):
        context = {"calendar_warning": calendar_warning(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)


# --------------------------------------------------------------------------- codebook


class FilingConditionInline(admin.TabularInline):
    model = FilingCondition
    extra = 0
    fields = ["seq", "text", "limit_value", "limit_unit", "urgent", "closing_condition", "limit_text_raw"]
    show_change_link = True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "closing_condition":
            # Only the closing conditions of the category being edited.
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = (
                ClosingCondition.objects.filter(category_id=object_id) if object_id else ClosingCondition.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ClosingConditionInline(admin.TabularInline):
    model = ClosingCondition
    extra = 0
    fields = ["text"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "standard",
        "kind",
        "major_code",
        "major_name",
        "minor_code",
        "minor_name",
        "emergency",
        "active",
    ]
    list_display_links = ["minor_code", "minor_name"]
    list_filter = ["standard", "kind", "major_name", "emergency", "active"]
    search_fields = ["major_code", "major_name", "minor_code", "minor_name"]
    fieldsets = [
        (None, {"fields": ["standard", "kind", ("major_code", "major_name"), ("minor_code", "minor_name")]}),
        (_("计时与状态"), {"fields": ["emergency", "active", "code_status", "note"]}),
    ]
    inlines = [ClosingConditionInline, FilingConditionInline]
    list_per_page = 50


class DisposalLimitInline(admin.TabularInline):
    model = DisposalLimit
    extra = 0
    max_num = 3


@admin.register(FilingCondition)
class FilingConditionAdmin(admin.ModelAdmin):
    list_display = ["category", "seq", "text", "limit_value", "limit_unit", "urgent", "closing_condition"]
    list_display_links = ["text"]
    list_filter = ["urgent", "limit_unit", "category__kind", "category__standard"]
    search_fields = ["text", "category__minor_code", "category__minor_name"]
    list_select_related = ["category", "closing_condition"]
    autocomplete_fields = ["category"]
    fields = [
        "category",
        "seq",
        "text",
        ("limit_value", "limit_unit"),
        "urgent",
        "closing_condition",
        "limit_text_raw",
        "source",
    ]
    inlines = [DisposalLimitInline]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "closing_condition":
            # On a change page: only the closing conditions of this condition's category.
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            if object_id:
                category_id = FilingCondition.objects.filter(pk=object_id).values_list("category_id", flat=True).first()
                kwargs["queryset"] = ClosingCondition.objects.filter(category_id=category_id)
            else:
                kwargs["queryset"] = ClosingCondition.objects.select_related("category")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ClosingCondition)
class ClosingConditionAdmin(admin.ModelAdmin):
    list_display = ["text", "category"]
    search_fields = ["text", "category__minor_code", "category__minor_name"]
    list_filter = ["category__kind"]
    list_select_related = ["category"]
    autocomplete_fields = ["category"]


@admin.register(StageLimit)
class StageLimitAdmin(admin.ModelAdmin):
    list_display = ["stage", "limit_value", "limit_unit", "warn_ratio"]
    list_editable = ["limit_value", "limit_unit", "warn_ratio"]
    list_display_links = ["stage"]


# --------------------------------------------------------------------------- calendar


@admin.register(WorkPeriodRow)
class WorkPeriodRowAdmin(CalendarAdminMixin, admin.ModelAdmin):
    list_display = ["weekday", "start", "end"]
    list_filter = ["weekday"]


class YearFilter(admin.SimpleListFilter):
    title = _("年份")
    parameter_name = "year"

    def lookups(self, request, model_admin):
        years = CalendarDay.objects.dates("day", "year", order="DESC")
        return [(str(d.year), str(d.year)) for d in years]

    def queryset(self, request, queryset):
        if self.value():
            try:
                year = int(self.value())
            except ValueError:
                return queryset.none()
            return queryset.filter(day__year=year)
        return queryset


@admin.register(CalendarDay)
class CalendarDayAdmin(CalendarAdminMixin, admin.ModelAdmin):
    list_display = ["day", "weekday", "is_workday", "name", "source"]
    list_filter = [YearFilter, "is_workday", "name"]
    search_fields = ["name"]
    date_hierarchy = "day"
    ordering = ["day"]
    list_per_page = 100

    @admin.display(description=_("星期"))
    def weekday(self, obj: CalendarDay) -> str:
        return str(dict(WEEKDAYS)[obj.day.weekday()])


@admin.register(CalendarYear)
class CalendarYearAdmin(CalendarAdminMixin, admin.ModelAdmin):
    list_display = ["year", "holidays", "workdays", "source", "confirmed_by"]
    ordering = ["-year"]

    # Days are keyed by date, not by a foreign key; the table has one row per year,
    # so two small counts per listed year are fine.
    @admin.display(description=_("放假天数"))
    def holidays(self, obj: CalendarYear) -> int:
        return CalendarDay.objects.filter(day__year=obj.year, is_workday=False).count()

    @admin.display(description=_("调休上班天数"))
    def workdays(self, obj: CalendarYear) -> int:
        return CalendarDay.objects.filter(day__year=obj.year, is_workday=True).count()

    def save_model(self, request, obj, form, change):
        if not obj.confirmed_by:
            obj.confirmed_by = str(request.user)[:50]
        super().save_model(request, obj, form, change)


# --------------------------------------------------------------------------- areas, units, people


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent", "area_class", "synthetic"]
    list_filter = ["level", "area_class", "synthetic"]
    search_fields = ["code", "name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    fieldsets = [
        (None, {"fields": ["code", "name", "level", "parent", "path", "area_class"]}),
        (
            _("空间数据"),
            {
                "classes": ["collapse"],
                "fields": ["geometry_summary", "centroid_lon", "centroid_lat", "area_m2", "synthetic"],
            },
        ),
    ]
    show_full_result_count = False

    def get_queryset(self, request):
        # Boundaries are large: never load them for lists and pickers.
        return super().get_queryset(request).defer("geometry")

    def get_readonly_fields(self, request, obj=None):
        # ``path`` (and every case's ``area_path``) is derived from the codes of the
        # ancestors, so an existing area keeps its code and its place in the tree.
        if obj is not None:
            return ["path", "geometry_summary", "code", "parent"]
        return ["path", "geometry_summary"]

    @admin.display(description=_("边界 (GeoJSON, WGS84)"))
    def geometry_summary(self, obj: Area) -> str:
        if obj is None or obj.pk is None:
            return "-"
        geometry = Area.objects.filter(pk=obj.pk).values_list("geometry", flat=True).first()
        if not geometry:
            return gettext("无")
        size = len(json.dumps(geometry, separators=(",", ":")))
        kind = geometry.get("type", "?") if isinstance(geometry, dict) else "?"
        return gettext("%(type)s，%(size)s 字节（请用导入工具更新）") % {"type": kind, "size": f"{size:,}"}


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "level", "area", "parent", "evaluation_group", "active"]
    list_filter = ["kind", "level", "active", "evaluation_group"]
    search_fields = ["code", "name"]
    list_select_related = ["area", "parent"]
    autocomplete_fields = ["area", "parent"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("area__geometry")


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 1


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("姓名与联系方式"), {"fields": ("display_name", "phone", "first_name", "last_name", "email")}),
        (_("管辖范围"), {"fields": ("scope_area", "scope_unit")}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (
            _("姓名与管辖范围"),
            {"classes": ("wide",), "fields": ("display_name", "phone", "scope_area", "scope_unit")},
        ),
    )
    list_display = [
        "username",
        "display_name",
        "roles_display",
        "scope_area",
        "scope_unit",
        "is_staff",
        "is_active",
    ]
    list_filter = ["role_grants__role", "is_staff", "is_superuser", "is_active"]
    search_fields = ["username", "display_name", "phone", "email", "first_name", "last_name"]
    list_select_related = ["scope_area", "scope_unit"]
    autocomplete_fields = ["scope_area", "scope_unit"]
    inlines = [RoleGrantInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("scope_area__geometry").prefetch_related("role_grants")

    @admin.display(description=_("角色"))
    def roles_display(self, obj: User) -> str:
        return gettext("、").join(str(g.get_role_display()) for g in obj.role_grants.all())

    def get_inlines(self, request, obj):
        # The add page is the stock two-step form; roles come on the change page.
        return self.inlines if obj is not None else []

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # The inspector picker of a contractor's membership (an autocomplete request) offers inspectors only.
        if request.GET.get("model_name") == "contractormembership" and request.GET.get("field_name") == "inspector":
            queryset, may_have_duplicates = queryset.filter(role_grants__role=Role.INSPECTOR), True
        return queryset, may_have_duplicates


# --------------------------------------------------------------------------- API tokens


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by ``services.tokens`` (the plaintext is shown once); here they are
    listed and revoked."""

    list_display = ["prefix", "name", "user", "created_at", "revoked_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__username", "user__display_name"]
    list_select_related = ["user"]
    fields = ["user", "name", "prefix", "created_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("有效"), boolean=True)
    def active(self, obj: ApiToken) -> bool:
        return obj.revoked_at is None

    @admin.action(description=_("吊销所选令牌"), permissions=["change"])
    def revoke(self, request, queryset):
        try:
            from citykeeper.services.tokens import revoke_token
        except ImportError:
            self.message_user(request, gettext("令牌服务尚不可用，未吊销任何令牌。"), messages.ERROR)
            return
        at = timezone.now()
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            revoke_token(token, at)
            count += 1
        self.message_user(
            request,
            ngettext("已吊销 %(count)d 个令牌。", "已吊销 %(count)d 个令牌。", count) % {"count": count},
            messages.SUCCESS,
        )


# --------------------------------------------------------------------------- inspection contractors (监督员外包公司)
#
# The rules are those of services.evaluation.add_contractor and assign_inspector: a contract
# does not end before it starts; a membership is an inspector's, does not end before it starts,
# and an inspector works for one contractor at a time (two spans of one inspector share no day).


def _span_text(start: dt.date, end: dt.date | None) -> str:
    if end is None:
        return gettext("%(start)s 起，未结束") % {"start": start}
    return gettext("%(start)s 至 %(end)s") % {"start": start, "end": end}


def _share_a_day(start: dt.date, end: dt.date | None, other_start: dt.date, other_end: dt.date | None) -> bool:
    """Two spans of days (an empty end: open-ended) have a day in common."""
    return (other_end is None or other_end >= start) and (end is None or other_start <= end)


def _taken(inspector: User, start: dt.date, end: dt.date | None, ignored: set[int]) -> ContractorMembership | None:
    """The first stored membership of ``inspector`` sharing a day with start…end, leaving out ``ignored``."""
    stored = ContractorMembership.objects.filter(inspector=inspector).exclude(pk__in=ignored)
    stored = stored.filter(Q(end__isnull=True) | Q(end__gte=start))
    if end is not None:
        stored = stored.filter(start__lte=end)
    return stored.select_related("contractor").order_by("start").first()


def _overlap_problem(inspector: User, contractor: str, start: dt.date, end: dt.date | None) -> str:
    return gettext(
        "%(inspector)s 已经为“%(contractor)s”工作（%(span)s），同一时间只能为一家外包公司工作："
        "请先给那一段填上结束日期，或改这一段的日期。"
    ) % {"inspector": inspector, "span": _span_text(start, end), "contractor": contractor}


class ContractorAdminForm(forms.ModelForm):
    class Meta:
        model = InspectionContractor
        fields = ["code", "name", "contract_start", "contract_end", "active"]

    def clean(self):
        data = super().clean()
        start, end = data.get("contract_start"), data.get("contract_end")
        if start is not None and end is not None and end < start:
            self.add_error(
                "contract_end",
                gettext("合同结束日期（%(end)s）早于合同开始日期（%(start)s）。") % {"end": end, "start": start},
            )
        return data


class MembershipAdminForm(forms.ModelForm):
    """One span of an inspector's work for a contractor. On its own page the form checks the
    span against the inspector's stored ones; in the contractor's inline the formset does,
    since several spans may change in one save."""

    check_overlaps = True

    class Meta:
        model = ContractorMembership
        fields = ["contractor", "inspector", "start", "end"]

    def clean(self):
        data = super().clean()
        inspector, start, end = data.get("inspector"), data.get("start"), data.get("end")
        if inspector is not None and not inspector.role_grants.filter(role=Role.INSPECTOR).exists():
            self.add_error("inspector", gettext("%(user)s 不是监督员：外包公司只登记监督员。") % {"user": inspector})
        if start is not None and end is not None and end < start:
            self.add_error(
                "end", gettext("结束日期（%(end)s）早于开始日期（%(start)s）。") % {"end": end, "start": start}
            )
        if self.check_overlaps and not self.errors and inspector is not None and start is not None:
            taken = _taken(inspector, start, end, {self.instance.pk} if self.instance.pk else set())
            if taken is not None:
                self.add_error("start", _overlap_problem(inspector, taken.contractor.name, taken.start, taken.end))
        return data


class InlineMembershipForm(MembershipAdminForm):
    check_overlaps = False  # ContractorMembershipFormSet.clean checks the spans together


class ContractorMembershipFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        # The stored rows edited or deleted here are judged by what the forms say now.
        ignored = {form.instance.pk for form in self.forms if form.instance.pk}
        seen: list[tuple[User, dt.date, dt.date | None]] = []
        for form in self.forms:
            if self._should_delete_form(form) or form.errors:
                continue
            data = form.cleaned_data  # empty for an extra row left blank
            inspector, start, end = data.get("inspector"), data.get("start"), data.get("end")
            if inspector is None or start is None:
                continue
            taken = _taken(inspector, start, end, ignored)
            if taken is not None:
                problem = _overlap_problem(inspector, taken.contractor.name, taken.start, taken.end)
            else:
                here = next((s for s in seen if s[0] == inspector and _share_a_day(start, end, s[1], s[2])), None)
                problem = None if here is None else _overlap_problem(inspector, self.instance.name, here[1], here[2])
            if problem is not None:
                form.add_error("start", problem)
            else:
                seen.append((inspector, start, end))


class ContractorMembershipInline(admin.TabularInline):
    model = ContractorMembership
    form = InlineMembershipForm
    formset = ContractorMembershipFormSet
    fields = ["inspector", "start", "end"]
    autocomplete_fields = ["inspector"]
    ordering = ["start", "pk"]
    extra = 1


@admin.register(InspectionContractor)
class InspectionContractorAdmin(admin.ModelAdmin):
    form = ContractorAdminForm
    list_display = ["code", "name", "contract_start", "contract_end", "active", "inspectors_now"]
    list_display_links = ["code", "name"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    inlines = [ContractorMembershipInline]

    def get_queryset(self, request):
        today = _today()
        working = Q(memberships__start__lte=today) & (Q(memberships__end__isnull=True) | Q(memberships__end__gte=today))
        return super().get_queryset(request).annotate(inspectors_now=Count("memberships", filter=working))

    @admin.display(description=_("现有监督员"), ordering="inspectors_now")
    def inspectors_now(self, obj: InspectionContractor) -> int:
        return obj.inspectors_now


@admin.register(ContractorMembership)
class ContractorMembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["inspector", "contractor", "start", "end"]
    list_display_links = ["inspector"]
    list_filter = ["contractor"]
    search_fields = ["inspector__username", "inspector__display_name", "contractor__code", "contractor__name"]
    list_select_related = ["inspector", "contractor"]
    autocomplete_fields = ["contractor", "inspector"]
    ordering = ["contractor__code", "start", "pk"]


# --------------------------------------------------------------------------- cases (read-only)


class ReadOnlyAdminMixin:
    """No add, change or delete for anyone: cases change only through the lifecycle services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CaseEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    fields = [
        "seq",
        "kind",
        "at",
        "actor_name",
        "actor_role",
        "from_state",
        "to_state",
        "stage",
        "stage_deadline_at",
        "reason",
    ]
    readonly_fields = fields
    ordering = ["seq"]
    extra = 0


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "category",
        "state",
        "source",
        "area",
        "unit",
        "stage",
        "stage_deadline_at",
        "stage_overdue",
        "urgent",
        "reported_at",
    ]
    list_filter = ["state", "source", "stage_overdue", "urgent", "stage"]
    search_fields = ["=number"]
    list_select_related = ["category", "area", "unit"]
    show_full_result_count = False
    inlines = [CaseEventInline]
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).defer("area__geometry")


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["case_number", "seq", "kind", "at", "actor_display", "role", "transition"]
    list_filter = ["kind", "actor_role"]
    search_fields = ["=case__number"]
    list_select_related = ["case", "actor"]
    ordering = ["-id"]
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description=_("案卷号"), ordering="case__number")
    def case_number(self, obj: CaseEvent) -> str:
        return obj.case.number

    @admin.display(description=_("操作人"))
    def actor_display(self, obj: CaseEvent) -> str:
        return obj.actor_name or (str(obj.actor) if obj.actor_id else "-")

    @admin.display(description=_("角色"), ordering="actor_role")
    def role(self, obj: CaseEvent) -> str:
        return str(ROLE_LABELS.get(obj.actor_role, obj.actor_role or "-"))

    @admin.display(description=_("状态变化"))
    def transition(self, obj: CaseEvent) -> str:
        if not obj.from_state and not obj.to_state:
            return "-"
        if obj.from_state == obj.to_state:
            return _state_label(obj.to_state)
        return f"{_state_label(obj.from_state)} → {_state_label(obj.to_state)}"


def _state_label(value: str) -> str:
    return str(STATE_LABELS.get(value, value or "-"))


# --------------------------------------------------------------------------- base data

from citykeeper.web import admin_basedata  # noqa: E402, F401  (registers the base data admins)
