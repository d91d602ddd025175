"""Base data bookkeeping: the version counter behind index reloads, and versioned
component changes (who, when, through what, which fields).

Every process keeps its locating indexes in memory. Whatever changes grids,
components, responsibility grids or the gazetteer moves ``BaseDataVersion`` in the
same transaction (the signals below for single saves, ``bump`` for bulk imports), and
each process compares the counter with the one its indexes were built from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from citykeeper.store.models import (
    Area,
    BaseDataVersion,
    Category,
    Component,
    ComponentVersion,
    GazetteerEntry,
    ResponsibilityGrid,
)

# Fields a component change may touch; the rest (code, version, timestamps) are the record's own.
COMPONENT_FIELDS = (
    "name",
    "category",
    "geometry_kind",
    "geometry",
    "lon",
    "lat",
    "state",
    "competent_unit",
    "owner_unit",
    "maintainer_unit",
    "grid",
    "surveyed_on",
    "changed_on",
    "data_source",
    "note",
    "attributes",
)


def current_version() -> int:
    return BaseDataVersion.objects.values_list("version", flat=True).first() or 0


# Bumps made by this process: its own indexes look at the stored version at once after
# one, without waiting for their periodic check.
_local_changes = [0]


def local_changes() -> int:
    return _local_changes[0]


def bump(now: dt.datetime | None = None) -> None:
    """Move the base data version (inside the caller's transaction)."""
    _local_changes[0] += 1
    now = now or timezone.now()
    if not BaseDataVersion.objects.update(version=F("version") + 1, changed_at=now):
        BaseDataVersion.objects.create(version=1, changed_at=now)


def _bump_on_signal(**_kwargs) -> None:
    bump()


for _model in (Area, Component, ResponsibilityGrid, GazetteerEntry):
    post_save.connect(_bump_on_signal, sender=_model, dispatch_uid=f"basedata-{_model.__name__}")
    post_delete.connect(_bump_on_signal, sender=_model, dispatch_uid=f"basedata-{_model.__name__}-d")


def _plain(value: Any) -> Any:
    """A JSON-safe value for the change record (units and areas by code, categories by
    their minor code)."""
    if isinstance(value, Category):
        return value.minor_code
    if hasattr(value, "code"):
        return value.code
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _snapshot(component: Component) -> dict[str, Any]:
    return {name: _plain(getattr(component, name)) for name in COMPONENT_FIELDS}


def record_creation(component: Component, *, by, via: str, at: dt.datetime) -> ComponentVersion:
    """Version 1 of a new component: every field, as created."""
    return ComponentVersion.objects.create(
        component=component,
        version=component.version,
        changed_at=at,
        changed_by=by,
        via=via,
        changes={name: [None, value] for name, value in _snapshot(component).items()},
    )


def change_component(component: Component, changes: dict[str, Any], *, by, via: str, at: dt.datetime) -> Component:
    """Apply ``changes`` (field → new value), bump the version and record what changed.

    Nothing is recorded when no value differs; unknown fields are refused.
    """
    from citykeeper.domain.errors import InvalidInput

    unknown = sorted(set(changes) - set(COMPONENT_FIELDS))
    if unknown:
        raise InvalidInput(f"Component fields that cannot be changed: {', '.join(unknown)}.", field=unknown[0])
    with transaction.atomic():
        locked = Component.objects.select_for_update().get(pk=component.pk)
        before = _snapshot(locked)
        for name, value in changes.items():
            setattr(locked, name, value)
        # 变更日期 follows a change of state or shape unless the caller dates it.
        moved = any(before[n] != _plain(getattr(locked, n)) for n in ("state", "geometry"))
        if moved and "changed_on" not in changes:
            locked.changed_on = timezone.localdate(at)
        after = _snapshot(locked)
        diff = {name: [before[name], after[name]] for name in COMPONENT_FIELDS if before[name] != after[name]}
        if not diff:
            return locked
        locked.version += 1
        locked.updated_at = at
        locked.save()
        ComponentVersion.objects.create(
            component=locked, version=locked.version, changed_at=at, changed_by=by, via=via, changes=diff
        )
    return locked
