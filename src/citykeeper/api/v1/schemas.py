"""Request and response schemas of API v1 (what the OpenAPI document shows)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator, model_validator

from citykeeper.domain.clock import LimitUnit
from citykeeper.domain.workflow import Action, State
from citykeeper.store.models.cases import Source

SOURCES = tuple(Source.values)


class Strict(Schema):
    """Input schemas refuse unknown fields, so a typo ('verison') is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- paging


class PageParams(Schema):
    page: int = Field(1, ge=1, description="1-based page number.")
    page_size: int = Field(20, ge=1, le=200, description="Rows per page (at most 200).")


class PageOut(Schema):
    count: int = Field(..., description="Rows matching the filters, all pages together.")
    page: int
    page_size: int


# ---------------------------------------------------------------- cases: input


class CaseIn(Strict):
    category: int = Field(..., description="Category id (GET /codebook/categories).")
    area: str | None = Field(
        None,
        description="Code of the area (normally the unit grid) where the problem is; without it, lon/lat are located.",
    )
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude in `crs`.")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude in `crs`.")
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = Field(
        "wgs84", description="CRS of lon/lat: wgs84 (GPS), cgcs2000, gcj02 (AMap, Tencent) or bd09 (Baidu)."
    )
    description: str = Field("", max_length=5000)
    address: str = Field("", max_length=256)
    source: Literal[SOURCES] | None = Field(  # type: ignore[valid-type]
        None,
        description=(
            "Reporting channel. Default: 'inspector' for inspectors, 'citizen' for citizens, "
            "'leader' for leaders, otherwise 'hotline'."
        ),
    )
    urgent: bool = False
    condition: int | None = Field(
        None,
        description="Filing condition id (立案条件) the reporter sees, of this category: a proposal the shift lead "
        "confirms or changes when filing.",
    )
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=30)
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A retry with the same key returns the case the first request made (200 instead of 201).",
    )
    attachments: list[int] = Field(
        default_factory=list,
        description=(
            "Attachment ids. Attachments are uploaded to an existing case "
            "(POST /cases/{number}/attachments), so on creation this is normally empty; "
            "add photos afterwards with the 'note' action."
        ),
    )

    @model_validator(mode="after")
    def _both_coordinates(self):
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class ActionIn(Strict):
    version: int = Field(..., ge=1, description="The case version you read; a stale version answers 409.")
    reason: str = Field("", max_length=5000, description="Reason, opinion or feedback text.")
    attachments: list[int] = Field(default_factory=list, description="Ids of attachments of this case.")
    unit: str | None = Field(None, description="Unit code (dispatch).")
    condition: int | None = Field(None, description="Filing condition id (file).")
    category: int | None = Field(None, description="Corrected category id (file).")
    assignee: str | None = Field(None, description="Username of the inspector (send_verify, send_check).")
    found: bool | None = Field(None, description="Verification result (verify).")
    extension_value: float | None = Field(None, gt=0, description="Extra time (request/approve_extension).")
    extension_unit: LimitUnit | None = None
    target: str | None = Field(None, description="Number of the case to merge into (merge).")
    reply_due_at: dt.datetime | None = Field(None, description="When a reply is due (urge).")
    rating: int | None = Field(None, ge=1, le=5, description="1–5 stars (rate: the reporting citizen).")


class CaseFilters(PageParams):
    state: str | None = Field(None, description="One state or a comma-separated list, e.g. 'filed,dispatched'.")
    category: int | None = Field(None, description="Category id.")
    area: str | None = Field(None, description="Area code: cases anywhere inside that area.")
    unit: str | None = Field(None, description="Code of the responsible unit.")
    source: Literal[SOURCES] | None = None  # type: ignore[valid-type]
    overdue: bool | None = Field(None, description="true: the running stage is marked overdue; false: it is not.")
    assignee: str | None = Field(
        None, max_length=150, description="Username holding the verify or check task; 'me' for your own tasks."
    )
    reporter: Literal["me"] | None = Field(None, description="'me': only the cases you reported.")
    q: str | None = Field(None, max_length=100, description="Text in the number, address or description.")
    reported_after: dt.datetime | None = None
    reported_before: dt.datetime | None = None
    ordering: Literal["reported_at", "-reported_at", "stage_deadline_at", "-stage_deadline_at"] = "-reported_at"

    @field_validator("state")
    @classmethod
    def _states(cls, value: str | None) -> str | None:
        if value is None:
            return None
        states = [s.strip() for s in value.split(",") if s.strip()]
        known = {s.value for s in State}
        unknown = [s for s in states if s not in known]
        if unknown:
            raise ValueError(f"unknown state(s) {', '.join(unknown)}; use any of: {', '.join(s.value for s in State)}")
        return ",".join(states) or None


# ---------------------------------------------------------------- cases: output


class Ref(Schema):
    code: str
    name: str


class CategoryRef(Schema):
    id: int
    standard: str
    kind: str
    major_code: str
    major_name: str
    minor_code: str
    minor_name: str


class ConditionRef(Schema):
    id: int
    text: str
    limit_value: float
    limit_unit: str
    urgent: bool


class AreaRef(Schema):
    code: str
    name: str
    level: str


class UserRef(Schema):
    username: str
    name: str


class CaseSummary(Schema):
    number: str
    state: str
    state_label: str
    version: int
    source: str
    category: CategoryRef
    area: AreaRef
    unit: Ref | None
    description: str
    address: str
    urgent: bool
    reported_at: dt.datetime
    stage: str | None
    stage_deadline_at: dt.datetime | None
    stage_overdue: bool


class CasePage(PageOut):
    results: list[CaseSummary]


class ClockOut(Schema):
    stage: str | None = Field(..., description="The stage whose clock runs (null when none: terminal).")
    started_at: dt.datetime | None
    deadline_at: dt.datetime | None = Field(..., description="null while paused (suspended).")
    warn_at: dt.datetime | None
    limit_seconds: int | None = Field(..., description="Allowed working time, extensions included.")
    around_the_clock: bool
    paused: bool
    remaining_seconds: int | None = Field(
        ...,
        description=(
            "Working time left until the deadline, on the stage's calendar; negative when the deadline "
            "has passed; the frozen remainder while paused; null when unknown."
        ),
    )
    warned: bool
    overdue: bool = Field(..., description="Marked overdue by the deadline ticker.")


class EventOut(Schema):
    seq: int
    kind: str
    at: dt.datetime
    actor: str | None = Field(..., description="Username, null for anonymous or system events.")
    actor_name: str
    role: str
    from_state: str
    to_state: str
    stage: str
    stage_deadline_at: dt.datetime | None
    outcome: dict[str, Any] | None = Field(..., description="The finished stage: on time or not, time used.")
    reason: str
    data: dict[str, Any]
    attachments: list[dict[str, Any]]


class CaseDetail(Schema):
    number: str
    city_code: str
    state: str
    state_label: str
    version: int
    source: str
    category: CategoryRef
    condition: ConditionRef | None
    description: str
    address: str
    lon: float | None
    lat: float | None
    area: AreaRef
    area_path: str
    area_class: str
    urgent: bool
    reporter_name: str
    reporter_phone: str
    unit: Ref | None
    assignee: UserRef | None
    verification_found: bool | None
    merged_into: str | None
    rework_count: int
    return_count: int
    extension_count: int
    suspension_count: int
    urge_count: int
    reported_at: dt.datetime
    filed_at: dt.datetime | None
    dispatched_at: dt.datetime | None
    closed_at: dt.datetime | None
    updated_at: dt.datetime
    clock: ClockOut
    timeline: list[EventOut]
    allowed_actions: list[Action] = Field(
        ...,
        description=(
            "Actions the caller's roles may take on this case in its current state (the lifecycle "
            "table), empty when the case is outside the caller's scope for acting. The table's guards "
            "(e.g. 'only the assigned inspector', 'a filing condition is required') are NOT evaluated "
            "here: an action listed may still be refused when taken."
        ),
    )


class AttachmentOut(Schema):
    id: int
    sha256: str
    content_type: str
    size: int


# ---------------------------------------------------------------- reference data


class CategoryOut(CategoryRef):
    emergency: bool
    active: bool


class CategoryPage(PageOut):
    results: list[CategoryOut]


class AreaLimitOut(Schema):
    area_class: str
    limit_value: float
    limit_unit: str


class FilingConditionOut(Schema):
    id: int
    seq: int
    text: str
    limit_value: float
    limit_unit: str
    urgent: bool
    closing_condition: str | None
    area_limits: list[AreaLimitOut]


class CategoryDetail(CategoryOut):
    code_status: str
    note: str
    filing_conditions: list[FilingConditionOut]
    closing_conditions: list[str]


class AreaOut(Schema):
    code: str
    name: str
    level: str
    parent: str | None
    path: str
    area_class: str
    centroid_lon: float | None
    centroid_lat: float | None
    area_m2: float | None
    synthetic: bool


class AreaPage(PageOut):
    results: list[AreaOut]


class AreaDetail(AreaOut):
    children: list[str]
    geometry: dict[str, Any] | None = Field(None, description="GeoJSON (WGS84), only with ?geometry=true.")


class UnitOut(Schema):
    code: str
    name: str
    kind: str
    level: str
    evaluation_group: str
    area: str | None
    parent: str | None
    active: bool


class UnitPage(PageOut):
    results: list[UnitOut]


class PeriodOut(Schema):
    weekday: int = Field(..., description="0 = Monday.")
    start: str = Field(..., description="HH:MM")
    end: str = Field(..., description="HH:MM; 24:00 is midnight at the end of the day.")


class CalendarDayOut(Schema):
    day: dt.date
    is_workday: bool = Field(..., description="true: a swapped workday (调休); false: a holiday.")
    name: str
    source: str


class CalendarOut(Schema):
    year: int
    year_known: bool = Field(..., description="Whether the year's holidays have been entered.")
    week: list[PeriodOut]
    days: list[CalendarDayOut]
    known_years: list[int]
    missing_years: list[int] = Field(..., description="This year and next, when their rows are missing.")
    warning: str | None


class DeadlineOut(Schema):
    start: dt.datetime
    value: float
    unit: LimitUnit
    around_the_clock: bool
    duration_seconds: int
    deadline: dt.datetime
