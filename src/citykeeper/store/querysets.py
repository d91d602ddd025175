"""Data scoping in one place: ``restrict(user, action)``.

Every list and detail read of cases, by the API, the web pages and the jobs that act
for a person, goes through here (NetBox's RestrictedQuerySet pattern). Nobody filters
by district or unit anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from citykeeper.domain.workflow import Role

# Roles that see and act on cases by the area they cover (their scope area subtree).
_AREA_ROLES = frozenset(
    {Role.INSPECTOR, Role.OPERATOR, Role.SHIFT_LEAD, Role.DISPATCHER, Role.LEADER, Role.EVALUATOR, Role.ADMIN}
)


@dataclass(frozen=True)
class CaseScope:
    """Which cases one user may see or act on: the rule behind ``restrict``.

    It renders two ways from the same fields, as a query filter (``as_q``) for lists
    and as a predicate on a loaded row (``covers``) for the case a move has already
    locked, so the two can never disagree.
    """

    everything: bool = False
    area_path: str | None = None  # the scope area's subtree
    unit_id: int | None = None  # cases dispatched to this unit
    reporter_id: int | None = None  # the user's own reports

    @classmethod
    def of(cls, user, action: str = "view") -> CaseScope:
        """- staff with an area role: cases inside their scope area (the whole city for
          city-level staff); an area role without a scope area sees nothing;
        - unit handlers: cases dispatched to their unit;
        - citizens: their own reports (inspectors also see theirs);
        - superusers see everything (the emergency key, logged in the admin)."""
        if user is None or not user.is_authenticated or not user.is_active:
            return cls()
        if user.is_superuser:
            return cls(everything=True)
        roles = user.roles
        area_path = unit_id = reporter_id = None
        if roles & _AREA_ROLES and user.scope_area_id is not None:
            area_path = user.scope_area.path
        if Role.UNIT_HANDLER in roles and user.scope_unit_id is not None:
            unit_id = user.scope_unit_id
        if Role.CITIZEN in roles or (action == "view" and roles & {Role.INSPECTOR}):
            reporter_id = user.pk
        return cls(area_path=area_path, unit_id=unit_id, reporter_id=reporter_id)

    def as_q(self) -> models.Q:
        condition = models.Q(pk__in=[])
        if self.area_path is not None:
            condition |= models.Q(area_path=self.area_path) | models.Q(area_path__startswith=f"{self.area_path}/")
        if self.unit_id is not None:
            condition |= models.Q(unit_id=self.unit_id)
        if self.reporter_id is not None:
            condition |= models.Q(reporter_id=self.reporter_id)
        return condition

    def covers(self, case) -> bool:
        if self.everything:
            return True
        if self.area_path is not None and (
            case.area_path == self.area_path or case.area_path.startswith(f"{self.area_path}/")
        ):
            return True
        if self.unit_id is not None and case.unit_id == self.unit_id:
            return True
        return self.reporter_id is not None and case.reporter_id == self.reporter_id


class CaseQuerySet(models.QuerySet):
    def restrict(self, user, action: str = "view") -> CaseQuerySet:
        """Cases ``user`` may see (action "view") or act on (action "act"); see ``CaseScope``."""
        scope = CaseScope.of(user, action)
        return self if scope.everything else self.filter(scope.as_q())


def may(user, case, action: str = "act") -> bool:
    """Whether ``case`` (a loaded row) is in ``restrict(user, action)``, without a query."""
    return CaseScope.of(user, action).covers(case)


class AppendOnlyError(PermissionError):
    """Raised on any attempt to change or delete a case event."""


class EventQuerySet(models.QuerySet):
    """Bulk update and delete would bypass the append-only rule; refuse them."""

    def update(self, **kwargs):
        raise AppendOnlyError("Case events are append-only: bulk update is refused.")

    def delete(self):
        raise AppendOnlyError("Case events are append-only: bulk delete is refused.")
