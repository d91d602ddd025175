"""Admin screens for spatial base data: components (versioned), responsibility grids,
the gazetteer and routing rules with the "which unit would get this?" preview."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citykeeper.domain.errors import DomainError
from citykeeper.services import basedata, devices, open311, routing
from citykeeper.store.models import (
    Area,
    Category,
    Component,
    ComponentVersion,
    Device,
    DeviceEventType,
    GazetteerEntry,
    Open311Key,
    ResponsibilityGrid,
    RoutingRule,
)


class ComponentVersionInline(admin.TabularInline):
    model = ComponentVersion
    fields = ["version", "changed_at", "changed_by", "via", "changes"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-version"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    """Edits go through ``services.basedata`` so each one leaves a version record."""

    list_display = ["code", "name", "category", "state", "grid", "maintainer_unit", "changed_on", "version"]
    list_filter = ["state", "geometry_kind", "category__standard", "category"]
    search_fields = ["code", "name", "grid__code"]
    list_select_related = ["category", "grid", "maintainer_unit"]
    autocomplete_fields = ["category", "grid", "competent_unit", "owner_unit", "maintainer_unit"]
    readonly_fields = ["version", "updated_at", "area_path"]
    inlines = [ComponentVersionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("grid__geometry")

    def save_model(self, request, obj, form, change):
        now = timezone.now()
        if not change:
            obj.updated_at = now
            obj.area_path = obj.grid.path
            super().save_model(request, obj, form, change)
            basedata.record_creation(obj, by=request.user, via="admin", at=now)
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in basedata.COMPONENT_FIELDS}
        saved = basedata.change_component(obj, changes, by=request.user, via="admin", at=now)
        obj.version = saved.version


@admin.register(ResponsibilityGrid)
class ResponsibilityGridAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "area", "area_m2"]
    search_fields = ["code", "name"]
    list_select_related = ["area"]
    autocomplete_fields = ["area", "inspectors"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("area__geometry")


@admin.register(GazetteerEntry)
class GazetteerEntryAdmin(admin.ModelAdmin):
    list_display = ["kind", "name", "number", "poi_kind", "lon", "lat"]
    list_filter = ["kind", "poi_kind"]
    search_fields = ["name", "number"]


class RoutingPreviewForm(forms.Form):
    category = forms.ModelChoiceField(Category.objects.filter(active=True), label=_("案件类别"))
    grid = forms.CharField(label=_("单元网格代码"), max_length=20)
    component = forms.CharField(label=_("部件标识码（可选）"), max_length=17, required=False)

    def clean_grid(self):
        code = self.cleaned_data["grid"].strip()
        area = Area.objects.filter(code=code).first()
        if area is None:
            raise forms.ValidationError(_("没有代码为 %(code)s 的区域。"), params={"code": code})
        return area

    def clean_component(self):
        code = self.cleaned_data["component"].strip()
        if not code:
            return None
        component = Component.objects.filter(code=code).first()
        if component is None:
            raise forms.ValidationError(_("没有标识码为 %(code)s 的部件。"), params={"code": code})
        return component


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["kind", "area", "category", "unit", "priority", "active", "note"]
    list_filter = ["kind", "active", "category__kind"]
    search_fields = ["area__name", "area__code", "category__minor_name", "category__minor_code", "unit__name"]
    list_select_related = ["area", "category", "unit"]
    autocomplete_fields = ["area", "category", "unit"]
    change_list_template = "admin/citykeeper/routing_change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("area__geometry")

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        return [path("preview/", preview, name="store_routingrule_preview"), *super().get_urls()]

    def preview_view(self, request):
        """确权预览: which unit would a case of this category, here, get, and by which rule."""
        form = RoutingPreviewForm(request.GET or None)
        answer = None
        if form.is_valid():
            try:
                answer = routing.preview(
                    category=form.cleaned_data["category"],
                    area=form.cleaned_data["grid"],
                    component=form.cleaned_data["component"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        context = {
            **self.admin_site.each_context(request),
            "title": _("确权预览：这个案件会派给哪个单位？"),
            "opts": self.model._meta,
            "form": form,
            "answer": answer,
        }
        return TemplateResponse(request, "admin/citykeeper/routing_preview.html", context)


# --------------------------------------------------------------------------- Open311 client keys


@admin.register(Open311Key)
class Open311KeyAdmin(admin.ModelAdmin):
    """Keys are issued here: the key itself is shown once, after saving, and only its hash is kept."""

    list_display = ["name", "prefix", "rate_per_minute", "created_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return (
            ["name", "rate_per_minute"]
            if obj is None
            else ["name", "prefix", "rate_per_minute", "created_at", "revoked_at"]
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["prefix", "created_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        key, plaintext = open311.issue_key(obj.name, at=timezone.now(), rate_per_minute=obj.rate_per_minute)
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            _("请立即复制该客户端的 api_key，它只显示这一次：%(key)s") % {"key": plaintext},
        )

    @admin.action(description=_("吊销所选密钥"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, _("已吊销 %(count)d 个密钥。") % {"count": count})


# --------------------------------------------------------------------------- devices


@admin.register(DeviceEventType)
class DeviceEventTypeAdmin(admin.ModelAdmin):
    list_display = ["event_type", "category"]
    search_fields = ["event_type", "category__minor_name"]
    autocomplete_fields = ["category"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    """Devices report with a key shown once, after saving; false alarms are counted per device."""

    list_display = ["code", "name", "kind", "active", "fold_minutes", "fold_radius_m", "min_confidence", "false_alarms"]
    list_filter = ["kind", "active"]
    search_fields = ["code", "name"]
    exclude = ["key_hash"]
    readonly_fields = ["prefix"]

    @admin.display(description=_("误报率"))
    def false_alarms(self, obj: Device) -> str:
        figures = devices.stats(obj)
        return f"{figures['false_alarms']}/{figures['confirmed'] + figures['false_alarms']}"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        options = {f: getattr(obj, f) for f in ("fold_minutes", "fold_radius_m", "min_confidence", "active")}
        try:
            device, plaintext = devices.register(obj.code, obj.name, lon=obj.lon, lat=obj.lat, kind=obj.kind, **options)
        except DomainError as exc:
            messages.error(request, exc.message)
            return
        obj.pk = device.pk
        obj.refresh_from_db()
        messages.warning(request, _("请立即复制该设备的密钥，它只显示这一次：%(key)s") % {"key": plaintext})
