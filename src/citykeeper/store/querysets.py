"""Data scoping in one place: ``restrict(user, action)``.

Every list and detail read of cases, by the API, the web pages and the jobs that act
for a person, goes through here (NetBox's RestrictedQuerySet pattern). Nobody filters
by district or unit anywhere else.
"""

from __future__ import annotations

from django.db import models

from citykeeper.domain.workflow import Role

# Roles that see and act on cases by the area they cover (their scope area subtree).
_AREA_ROLES = frozenset(
    {Role.INSPECTOR, Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER, Role.LEADER, Role.EVALUATOR, Role.ADMIN}
)


class CaseQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> CaseQuerySet:
        """Cases ``user`` may see (action "view") or act on (action "act").

        - staff with an area role: cases inside their scope area (the whole city for
          city-level staff); an area role without a scope area sees nothing;
        - unit handlers: cases dispatched to their unit;
        - citizens: their own reports;
        - superusers see everything (the emergency key, logged in the admin).
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        roles = user.roles
        condition = models.Q(pk__in=[])
        if roles & _AREA_ROLES and user.scope_area_id is not None:
            path = user.scope_area.path
            condition |= models.Q(area_path=path) | models.Q(area_path__startswith=f"{path}/")
        if Role.UNIT_HANDLER in roles and user.scope_unit_id is not None:
            condition |= models.Q(unit_id=user.scope_unit_id)
        if Role.CITIZEN in roles or (action == "view" and roles & {Role.INSPECTOR}):
            condition |= models.Q(reporter_id=user.pk)
        return self.filter(condition)


class AppendOnlyError(PermissionError):
    """Raised on any attempt to change or delete a case event."""


class EventQuerySet(models.QuerySet):
    """Bulk update and delete would bypass the append-only rule; refuse them."""

    def update(self, **kwargs):
        raise AppendOnlyError("Case events are append-only: bulk update is refused.")

    def delete(self):
        raise AppendOnlyError("Case events are append-only: bulk delete is refused.")
