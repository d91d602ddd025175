from citykeeper.store.models.calendar import CalendarDay, CalendarYear, WorkPeriodRow
from citykeeper.store.models.cases import ApiToken, Attachment, Case, CaseEvent, CaseNumberCounter
from citykeeper.store.models.codebook import Category, ClosingCondition, DisposalLimit, FilingCondition, StageLimit
from citykeeper.store.models.org import Area, RoleGrant, Unit, User

__all__ = [
    "ApiToken",
    "Area",
    "Attachment",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseEvent",
    "CaseNumberCounter",
    "Category",
    "ClosingCondition",
    "DisposalLimit",
    "FilingCondition",
    "RoleGrant",
    "StageLimit",
    "Unit",
    "User",
    "WorkPeriodRow",
]
