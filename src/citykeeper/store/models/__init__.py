from citykeeper.store.models.basedata import (
    BaseDataVersion,
    Component,
    ComponentVersion,
    GazetteerEntry,
    ResponsibilityGrid,
    RoutingRule,
)
from citykeeper.store.models.calendar import CalendarDay, CalendarYear, WorkPeriodRow
from citykeeper.store.models.cases import (
    ApiToken,
    Attachment,
    Case,
    CaseEvent,
    CaseNumberCounter,
    FollowLink,
    RateCounter,
)
from citykeeper.store.models.codebook import Category, ClosingCondition, DisposalLimit, FilingCondition, StageLimit
from citykeeper.store.models.evaluation import (
    CaseContribution,
    CaseSubject,
    EvaluationBulletin,
    EvaluationCounter,
    EvaluationRun,
    EvaluationScheme,
)
from citykeeper.store.models.open311 import Device, DeviceEvent, DeviceEventType, Open311Key
from citykeeper.store.models.org import Area, RoleGrant, SavedFilter, Unit, User

__all__ = [
    "ApiToken",
    "Area",
    "Attachment",
    "BaseDataVersion",
    "CalendarDay",
    "CalendarYear",
    "Case",
    "CaseContribution",
    "CaseEvent",
    "CaseNumberCounter",
    "CaseSubject",
    "Category",
    "ClosingCondition",
    "Component",
    "ComponentVersion",
    "Device",
    "DeviceEvent",
    "DeviceEventType",
    "DisposalLimit",
    "EvaluationBulletin",
    "EvaluationCounter",
    "EvaluationRun",
    "EvaluationScheme",
    "FilingCondition",
    "FollowLink",
    "GazetteerEntry",
    "Open311Key",
    "RateCounter",
    "ResponsibilityGrid",
    "RoleGrant",
    "RoutingRule",
    "SavedFilter",
    "StageLimit",
    "Unit",
    "User",
    "WorkPeriodRow",
]
