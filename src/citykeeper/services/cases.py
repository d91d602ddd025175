"""Case verbs: one function per move of the lifecycle.

Every verb follows the same steps (``_move``):

1. load the case inside a transaction, locking its row;
2. refuse a stale version (the caller read an older case) with ``StaleVersion``;
3. look the move up in the lifecycle table, check the actor's role and scope and the
   row's named guards;
4. run the stage clock (stop and record the outcome, start the next, keep, pause or
   resume);
5. save with a compare-and-set on the version and append one hash-chained event;
6. after commit, log and run the side-effect hooks.

Nothing is written when any step refuses.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from citykeeper.domain import clock as clocks
from citykeeper.domain.chain import GENESIS, link_hash
from citykeeper.domain.errors import InvalidInput, NotFound, NotPermitted, StaleVersion
from citykeeper.domain.numbering import case_number
from citykeeper.domain.workflow import (
    STATE_STAGE,
    TERMINAL_STATES,
    Action,
    Clock,
    Role,
    Stage,
    State,
    Transition,
    transition_for,
)
from citykeeper.services import attachments as attachment_service
from citykeeper.services import counters, hooks, routing
from citykeeper.services.attachments import CheckedMedia
from citykeeper.services.calendar import calendar_for
from citykeeper.services.limits import limit_for, to_limit
from citykeeper.store.bulk import insert_new
from citykeeper.store.models import (
    Area,
    Attachment,
    Case,
    CaseEvent,
    CaseNumberCounter,
    Category,
    FilingCondition,
    Unit,
    User,
)
from citykeeper.store.models.cases import Source
from citykeeper.store.querysets import may

log = logging.getLogger(__name__)

# Reports from these sources are first-hand: the operator may accept them without
# sending an inspector to verify (DESIGN: verification is for non-inspector sources). A
# camera's snapshot is the evidence: accepting it is the operator's confirmation, and
# rejecting it marks a false alarm of the device.
FIRST_HAND_SOURCES = frozenset({Source.INSPECTOR, Source.LEADER, Source.CAMERA})


@dataclass
class MoveInput:
    """What a caller may send with a move; each verb uses the fields it needs."""

    reason: str = ""
    attachments: list[int] = field(default_factory=list)
    unit: Unit | None = None
    condition: FilingCondition | None = None
    category: Category | None = None
    assignee: User | None = None
    found: bool | None = None
    extension_value: float | None = None
    extension_unit: str | None = None
    target: Case | None = None
    reply_due_at: dt.datetime | None = None
    callback: str | None = None  # 回访 outcome, on a note
    rating: int | None = None  # 市民评价, 1–5 stars
    reply_to: int | None = None  # a note answering an urge (督办回复): the urge event's seq
    at: dt.datetime | None = None  # when the move happens: set by _move for the guards


# ---------------------------------------------------------------- the clock on a case


def clock_of(case: Case) -> clocks.StageClock | None:
    if not case.stage:
        return None
    remaining = None if case.stage_remaining_seconds is None else dt.timedelta(seconds=case.stage_remaining_seconds)
    return clocks.StageClock(
        stage=case.stage,
        started_at=case.stage_started_at,
        limit=dt.timedelta(seconds=case.stage_limit_seconds or 0),
        around_the_clock=case.stage_around_the_clock,
        deadline_at=case.stage_deadline_at,
        warn_at=case.stage_warn_at,
        remaining=remaining,
        warned=case.stage_warned,
        overdue=case.stage_overdue,
    )


def clock_fields(clock: clocks.StageClock | None) -> dict[str, Any]:
    if clock is None:
        return {
            "stage": "",
            "stage_started_at": None,
            "stage_deadline_at": None,
            "stage_warn_at": None,
            "stage_limit_seconds": None,
            "stage_around_the_clock": False,
            "stage_remaining_seconds": None,
            "stage_warned": False,
            "stage_overdue": False,
            "next_deadline_at": None,
        }
    return {
        "stage": clock.stage,
        "stage_started_at": clock.started_at,
        "stage_deadline_at": clock.deadline_at,
        "stage_warn_at": clock.warn_at,
        "stage_limit_seconds": int(clock.limit.total_seconds()),
        "stage_around_the_clock": clock.around_the_clock,
        "stage_remaining_seconds": None if clock.remaining is None else int(clock.remaining.total_seconds()),
        "stage_warned": clock.warned,
        "stage_overdue": clock.overdue,
        "next_deadline_at": clock.next_due(),
    }


def _start_stage(case: Case, stage: Stage, at: dt.datetime) -> clocks.StageClock:
    limit, warn_ratio = limit_for(stage, case)
    return clocks.start(stage, limit, at=at, calendar=calendar_for(limit.around_the_clock), warn_ratio=warn_ratio)


def _calendar_of(clock: clocks.StageClock):
    return calendar_for(clock.around_the_clock)


# ---------------------------------------------------------------- events


def next_event(
    case: Case,
    *,
    kind: str,
    at: dt.datetime,
    actor: User | None = None,
    role: str = "",
    from_state: str = "",
    to_state: str = "",
    outcome: dict | None = None,
    reason: str = "",
    data: dict | None = None,
    attachments: list | None = None,
) -> CaseEvent:
    """The next link of ``case``'s chain, hashed from the head stored on the case; not saved.

    The caller moves the head (``chain_fields``) in the same compare-and-set update that
    changes the case, then saves the event, all inside the case's locked transaction.
    """
    event = CaseEvent(
        case=case,
        seq=case.chain_seq + 1,
        kind=kind,
        at=at,
        actor=actor,
        actor_name=str(actor) if actor else "",
        actor_role=role,
        from_state=from_state,
        to_state=to_state,
        stage=case.stage,
        stage_deadline_at=case.stage_deadline_at,
        outcome=outcome,
        reason=reason,
        data=data or {},
        attachments=attachments or [],
        prev_hash=case.chain_head or GENESIS,
    )
    event.hash = link_hash(event.prev_hash, event.chain_content())
    return event


def chain_fields(event: CaseEvent) -> dict[str, Any]:
    """The case columns that record ``event`` as the chain's new head."""
    return {"chain_seq": event.seq, "chain_head": event.hash}


def _next_number(city_code: str, at: dt.datetime) -> str:
    """The next number of the local day; the counter row is locked by the increment."""
    from django.utils import timezone

    day = timezone.localtime(at).date()
    counters = CaseNumberCounter.objects.filter(city_code=city_code, day=day)
    if not counters.update(last=F("last") + 1):  # the day's first case
        CaseNumberCounter.objects.get_or_create(city_code=city_code, day=day)
        counters.update(last=F("last") + 1)
    return case_number(day, counters.values_list("last", flat=True).get())


# ---------------------------------------------------------------- report


def report(
    *,
    actor: User | None,
    source: str,
    category: Category,
    area: Area,
    at: dt.datetime,
    description: str = "",
    address: str = "",
    lon: float | None = None,
    lat: float | None = None,
    urgent: bool = False,
    reporter_name: str = "",
    reporter_phone: str = "",
    idempotency_key: str | None = None,
    attachments: list[int] | None = None,
    source_detail: str = "",
    extra: dict | None = None,
    photos: list[CheckedMedia] | None = None,
    condition: FilingCondition | None = None,
) -> Case:
    """上报: a new case enters the acceptance queue with the accept clock running.

    ``source_detail`` names the client or device within the channel; ``extra`` (what the
    channel sent besides, e.g. Open311 attributes) is kept on the report event. ``photos``
    (already checked by ``attachments.check_image``) are stored with the case and named by
    the report event, so the first link of the record carries the reporter's evidence.

    A retry with the same idempotency key returns the case the first call made.
    """
    from django.conf import settings

    if source not in Source.values:
        raise InvalidInput(f"Unknown source '{source}' (use one of: {', '.join(Source.values)}).", field="source")
    if not category.active:
        raise InvalidInput(f"Category {category.minor_code} is not in use.", field="category")
    if condition is not None and condition.category_id != category.pk:
        raise InvalidInput(
            f"Filing condition {condition.pk} belongs to another category than {category.minor_code}.",
            field="condition",
        )
    if idempotency_key:
        existing = Case.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    role = _reporting_role(actor, source)
    stored: list[Attachment] = []
    try:
        with transaction.atomic():
            case = Case(
                number=_next_number(settings.CITYKEEPER["CITY_CODE"], at),
                city_code=settings.CITYKEEPER["CITY_CODE"],
                state=State.REPORTED,
                source=source,
                source_detail=source_detail[:100],
                category=category,
                # The reporter's reading of the filing condition (立案条件): a proposal that the
                # shift lead confirms or changes when filing.
                condition=condition,
                description=description,
                address=address,
                lon=lon,
                lat=lat,
                area=area,
                area_path=area.path,
                area_class=_area_class(area),
                urgent=urgent,
                reporter=actor,
                reporter_name=reporter_name or (str(actor) if actor else ""),
                reporter_phone=reporter_phone,
                idempotency_key=idempotency_key or None,
                reported_at=at,
                updated_at=at,
            )
            for name, value in clock_fields(_start_stage(case, Stage.ACCEPT, at)).items():
                setattr(case, name, value)
            refs = []
            if photos:
                case.save()  # the photos need the case's id; the chain head follows below
                for photo in photos:
                    attachment, created = attachment_service.save_checked(case, photo, by=actor)
                    if created:
                        stored.append(attachment)
                    if not any(r["id"] == attachment.pk for r in refs):
                        refs.append(_attachment_ref(attachment))
            event = next_event(
                case,
                kind="report",
                at=at,
                actor=actor,
                role=role,
                to_state=State.REPORTED,
                data={
                    "source": source,
                    "category": category.minor_code,
                    "area": area.code,
                    "lon": lon,
                    "lat": lat,
                    **({"condition": condition.pk} if condition is not None else {}),
                    **({"source_detail": source_detail} if source_detail else {}),
                    **(extra or {}),
                },
                attachments=refs + _attachment_refs(case, attachments or []),
                reason=description,
            )
            for name, value in chain_fields(event).items():
                setattr(case, name, value)
            if photos:
                Case.objects.filter(pk=case.pk).update(**chain_fields(event))
            else:
                case.save()
            event.case = case  # now that the case has its id
            insert_new(event)
            counters.record_case(case.pk, kind=event.kind)
    except BaseException as exc:
        for attachment in stored:  # the rows are rolled back; their files must go too
            attachment_service.discard(attachment)
        if not isinstance(exc, IntegrityError):
            raise
        # Two retries raced with the same key: the other one made the case.
        if idempotency_key:
            existing = Case.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise
    after_commit(case, "report", actor, role)
    return case


# Who may report through which channel, and in which role the report is recorded.
# Trusted sources skip verification, so only the matching staff may claim them.
SOURCE_ROLES: dict[str, tuple[Role, ...]] = {
    Source.INSPECTOR: (Role.INSPECTOR,),
    Source.LEADER: (Role.LEADER,),
    Source.HOTLINE: (Role.OPERATOR, Role.SHIFT_LEAD),
    Source.CAMERA: (Role.OPERATOR, Role.ADMIN),
    Source.CITIZEN: (Role.CITIZEN, Role.OPERATOR, Role.INSPECTOR, Role.SHIFT_LEAD, Role.LEADER, Role.ADMIN),
    Source.OPEN311: (Role.CITIZEN, Role.OPERATOR, Role.ADMIN),
    Source.WEB: (Role.CITIZEN, Role.OPERATOR, Role.ADMIN),
    Source.IMPORT: (Role.ADMIN,),
}


def _reporting_role(actor: User | None, source: str) -> str:
    allowed = SOURCE_ROLES[source]
    if actor is None:
        if source == Source.CAMERA:
            return "device"  # a camera or sensor reporting through its own key (services.devices)
        if Role.CITIZEN in allowed:
            return Role.CITIZEN  # anonymous citizen report
        raise NotPermitted(f"Reports with source '{source}' need a signed-in staff member.", field="source")
    for role in allowed:
        if role in actor.roles:
            return role
    names = ", ".join(r.value for r in allowed)
    raise NotPermitted(f"Only these roles may report with source '{source}': {names}.", field="source")


def _area_class(area: Area) -> str:
    node = area
    while node is not None:
        if node.area_class:
            return node.area_class
        node = node.parent
    return ""


def _attachment_refs(case: Case, ids: list[int]) -> list[dict]:
    if not ids:
        return []
    found = {a.id: a for a in Attachment.objects.filter(id__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"Unknown attachment id(s): {missing}.", field="attachments")
    foreign = [i for i, a in found.items() if a.case_id not in (None, case.pk)]
    if foreign:
        raise InvalidInput(f"Attachment(s) {foreign} belong to another case.", field="attachments")
    return [_attachment_ref(found[i]) for i in ids]


def _attachment_ref(attachment: Attachment) -> dict:
    return {"id": attachment.id, "sha256": attachment.sha256, "type": attachment.content_type}


# ---------------------------------------------------------------- guards

Guard = Callable[[Case, User, MoveInput], None]


def _g_first_hand(case, actor, data):
    if case.source not in FIRST_HAND_SOURCES:
        raise NotPermitted(
            f"A report from source '{case.source}' must be verified by an inspector before it is accepted "
            f"(send_verify first).",
            field="action",
        )


def _g_inspector_assignee(case, actor, data):
    who = data.assignee
    if who is None:
        raise InvalidInput("Name the inspector who takes the task (assignee).", field="assignee")
    if Role.INSPECTOR not in who.roles or not who.is_active:
        raise InvalidInput(f"User '{who.username}' is not an active inspector.", field="assignee")
    if not may(who, case, "act"):
        raise InvalidInput(f"Inspector '{who.username}' does not cover this case's area.", field="assignee")


def _g_is_task_assignee(case, actor, data):
    if case.assignee_id != actor.pk:
        raise NotPermitted("Only the inspector the task was sent to can answer it.", field="assignee")


def _g_found_given(case, actor, data):
    if data.found is None:
        raise InvalidInput("Say whether the problem was found on site (found: true/false).", field="found")


def _g_verification_found(case, actor, data):
    if case.verification_found is not True:
        raise NotPermitted("The inspector did not find the problem on site; reject the report instead.", field="action")


def _g_is_reporter(case, actor, data):
    if case.reporter_id != actor.pk or case.source != Source.INSPECTOR:
        raise NotPermitted("Only the inspector who reported the case can self-dispose it.", field="action")


def _g_filing_condition(case, actor, data):
    category_id = data.category.pk if data.category is not None else case.category_id
    condition = data.condition or (case.condition if case.condition_id else None)
    if condition is None:
        raise InvalidInput("Choose the filing condition (立案条件) the case meets.", field="condition")
    if condition.category_id != category_id:
        category = data.category or case.category
        raise InvalidInput(
            f"Filing condition {condition.pk} belongs to another category than {category.minor_code}.",
            field="condition",
        )


def _g_unit(case, actor, data):
    unit = data.unit or (case.proposed_unit if case.proposed_unit_id else None)
    if unit is None:
        raise InvalidInput(
            "Choose the responsible unit to dispatch to (routing proposed none for this case).", field="unit"
        )
    if not unit.active:
        raise InvalidInput(f"Unit '{unit.name}' is not active.", field="unit")


def _g_feedback(case, actor, data):
    if not data.reason.strip():
        raise InvalidInput("Describe what was done (disposal feedback).", field="reason")


def _g_extension(case, actor, data):
    if data.extension_value is None or not data.extension_unit:
        raise InvalidInput(
            "Say how much more time is needed (extension_value and extension_unit).", field="extension_value"
        )
    to_limit(data.extension_value, data.extension_unit)  # validates value and unit


def _g_note(case, actor, data):
    if not data.reason.strip() and not data.attachments:
        raise InvalidInput("A note needs text or a photo.", field="reason")
    if data.reply_to is not None and not case.events.filter(seq=data.reply_to, kind=Action.URGE.value).exists():
        raise InvalidInput("reply_to must name an urge of this case.", field="reply_to")


def _g_merge_target(case, actor, data):
    target = data.target
    if target is None:
        raise InvalidInput("Name the case to merge into (target).", field="target")
    if target.pk == case.pk:
        raise InvalidInput("A case cannot be merged into itself.", field="target")
    if not target.is_open:
        raise InvalidInput(f"Case {target.number} is already finished.", field="target")
    if not Case.objects.restrict(actor, "act").filter(pk=target.pk).exists():
        raise NotPermitted(f"Case {target.number} is outside your scope.", field="target")


# How long after closing the reporter may still say "not fixed" (市民反映未解决).
REOPEN_WINDOW = dt.timedelta(days=30)
RATING_STARS = range(1, 6)
MAX_REOPENS = 2
# Channels whose reporters are members of the public and may rate and reopen.
REPORTER_SOURCES = frozenset({Source.CITIZEN, Source.WEB, Source.OPEN311, Source.HOTLINE})


def _reporter_only(case, actor):
    # A reporter acting through the private follow link has no account (actor None): the link
    # itself proves the relation. A signed-in citizen must be the case's reporter.
    if actor is not None and case.reporter_id != actor.pk:
        raise NotPermitted("Only the person who reported the case can do this.", field="action")


def _closing_event(case) -> CaseEvent | None:
    return case.events.filter(to_state=State.CLOSED).exclude(from_state=State.CLOSED).order_by("-seq").first()


def _g_rater_is_reporter(case, actor, data):
    _reporter_only(case, actor)


def _g_rating_given(case, actor, data):
    if data.rating not in RATING_STARS:
        raise InvalidInput("Give a rating of 1 to 5 stars.", field="rating", rule="rating_range")
    closing = _closing_event(case)
    if closing is not None and case.events.filter(kind=Action.RATE.value, seq__gt=closing.seq).exists():
        raise InvalidInput("This result was already rated.", field="rating", rule="already_rated")


def _g_reopen_allowed(case, actor, data):
    _reporter_only(case, actor)
    if case.source not in REPORTER_SOURCES:
        raise NotPermitted("Only cases reported by the public can be reopened by their reporter.", field="action")
    closing = _closing_event(case)
    if closing is None or data.at - closing.at > REOPEN_WINDOW:
        raise NotPermitted(
            f"A case can be reopened within {REOPEN_WINDOW.days} days of its closing; report it again instead.",
            field="action",
            rule="reopen_window",
        )
    if case.events.filter(kind=Action.REOPEN.value).count() >= MAX_REOPENS:
        raise NotPermitted(
            f"This case was already reopened {MAX_REOPENS} times; call the hotline to talk it through.",
            field="action",
            rule="reopen_limit",
        )


def _g_was_dispatched(case, actor, data):
    if case.unit_id is None:
        raise InvalidInput("The case was never dispatched to a unit; send an inspector to check it.", field="action")


def _g_not_received(case, actor, data):
    if case.received_at is not None:
        raise InvalidInput("The unit has already received this dispatch.", field="action", rule="already_received")


GUARDS: dict[str, Guard] = {
    "not_received": _g_not_received,
    "rater_is_reporter": _g_rater_is_reporter,
    "rating_given": _g_rating_given,
    "reopen_allowed": _g_reopen_allowed,
    "was_dispatched": _g_was_dispatched,
    "source_needs_no_verification": _g_first_hand,
    "inspector_assignee": _g_inspector_assignee,
    "is_task_assignee": _g_is_task_assignee,
    "verification_found": _g_verification_found,
    "found_given": _g_found_given,
    "is_reporter": _g_is_reporter,
    "has_filing_condition": _g_filing_condition,
    "unit_given": _g_unit,
    "feedback_given": _g_feedback,
    "extension_given": _g_extension,
    "note_given": _g_note,
    "merge_target_given": _g_merge_target,
}


# ---------------------------------------------------------------- the move


def _acting_role(row: Transition, actor: User) -> Role:
    roles = actor.roles
    for role in Role:  # table order: a deterministic choice when a user holds several
        if role in row.roles and role in roles:
            return role
    allowed = ", ".join(sorted(r.value for r in row.roles))
    raise NotPermitted(
        f"Your role may not '{row.action.value}' a case in state '{row.state.value}' (allowed roles: {allowed}).",
        field="role",
    )


def _link_role(row: Transition) -> Role:
    if Role.CITIZEN not in row.roles:
        raise NotPermitted(f"'{row.action.value}' is not possible through a follow link.", field="action")
    return Role.CITIZEN


def _load_for_move(number: str, actor: User | None) -> Case:
    # The case row alone: the scope check reads its own area_path and unit_id, the limits
    # come from the limit table by id, and a guard that needs a related row loads it.
    try:
        return Case.objects.select_for_update().get(number=number)
    except Case.DoesNotExist:
        raise NotFound(f"No case numbered {number}.", field="number") from None


def _move(
    number: str,
    action: Action,
    *,
    actor: User,
    version: int,
    at: dt.datetime,
    data: MoveInput,
    apply: Callable[[Case, MoveInput, dict[str, Any]], None] | None = None,
    extend_by: Callable[[Case, MoveInput], dt.timedelta] | None = None,
) -> Case:
    data.at = at
    with transaction.atomic():
        case = _load_for_move(number, actor)
        if actor is None:
            pass  # the reporter's follow link (services.follow) is the authority, not a scope
        elif not may(actor, case, "act"):
            # Same answer as for a case that does not exist would hide too much from
            # staff who mistype a number; say it is out of scope without details.
            raise NotPermitted(f"Case {number} is outside your scope.", field="number")
        if case.version != version:
            raise StaleVersion(
                f"Case {number} changed since you loaded it (your version {version}, now {case.version}); "
                f"reload and try again.",
                field="version",
                current=case.version,
            )
        row = transition_for(case.state, action)
        role = _acting_role(row, actor) if actor is not None else _link_role(row)
        if row.needs_reason and not data.reason.strip():
            raise InvalidInput(f"'{action.value}' needs a reason.", field="reason")
        for name in row.guards:
            GUARDS[name](case, actor, data)
        attachments = _attachment_refs(case, data.attachments)

        changes: dict[str, Any] = {}
        if apply is not None:
            apply(case, data, changes)
        for name, value in changes.items():
            setattr(case, name, value)

        outcome = None
        current = clock_of(case)
        if row.clock in (Clock.START, Clock.STOP) and current is not None:
            outcome = clocks.stop(current, at=at, calendar=_calendar_of(current)).as_dict()
        if row.clock == Clock.START:
            stage = STATE_STAGE.get(row.to)
            case.state = row.to  # limit lookup may depend on the new state's fields
            changes.update(clock_fields(_start_stage(case, stage, at) if stage else None))
        elif row.clock == Clock.STOP:
            changes.update(clock_fields(None))
        elif row.clock == Clock.PAUSE and current is not None:
            changes.update(clock_fields(clocks.pause(current, at=at, calendar=_calendar_of(current))))
        elif row.clock == Clock.RESUME and current is not None:
            changes.update(clock_fields(clocks.resume(current, at=at, calendar=_calendar_of(current))))
        if extend_by is not None and current is not None:
            extra = extend_by(case, data)
            changes.update(clock_fields(clocks.extend(current, extra, at=at, calendar=_calendar_of(current))))

        changes["state"] = row.to
        changes["updated_at"] = at
        if row.to != row.state and row.to in TERMINAL_STATES:
            changes["closed_at"] = at
        elif row.state in TERMINAL_STATES and row.to not in TERMINAL_STATES:
            changes["closed_at"] = None  # reopened
        for name, value in changes.items():
            setattr(case, name, value)
        event = next_event(
            case,
            kind=action.value,
            at=at,
            actor=actor,
            role=role,
            from_state=row.state,
            to_state=row.to,
            outcome=outcome,
            reason=data.reason,
            data=_event_data(action, data, case),
            attachments=attachments,
        )
        changes.update(chain_fields(event))
        updated = Case.objects.filter(pk=case.pk, version=version).update(version=F("version") + 1, **changes)
        if updated != 1:  # belt and braces: the row lock should make this unreachable
            raise StaleVersion(f"Case {number} changed while you were acting on it; reload.", field="version")
        for name, value in chain_fields(event).items():
            setattr(case, name, value)
        case.version = version + 1
        insert_new(event)
        counters.record_case(case.pk, kind=event.kind)
    after_commit(case, action.value, actor, role)
    return case


def _event_data(action: Action, data: MoveInput, case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if data.unit is not None:
        out["unit"] = data.unit.code
    if action == Action.FILE:
        # What routing proposed, so the accurate-dispatch rate can be computed later.
        out["proposed_unit"] = case.proposed_unit_code
        out["routing_step"] = case.routing_step
    if action == Action.DISPATCH:
        out["unit"] = case.unit.code
        if case.proposed_unit_id:
            override = case.unit_id != case.proposed_unit_id
            out["proposed_unit"] = case.proposed_unit.code if override else case.unit.code
            out["override"] = override
    if data.condition is not None:
        out["condition"] = data.condition.pk
    if data.category is not None:
        out["category"] = data.category.minor_code
    if data.assignee is not None:
        out["assignee"] = data.assignee.username
    if data.found is not None:
        out["found"] = data.found
    if data.extension_value is not None:
        out["extension"] = {"value": data.extension_value, "unit": data.extension_unit}
    if data.target is not None:
        out["target"] = data.target.number
    if data.reply_due_at is not None:
        out["reply_due_at"] = data.reply_due_at.isoformat()
    if data.callback is not None:
        out["callback"] = data.callback
    if data.rating is not None:
        out["rating"] = data.rating
    if data.reply_to is not None:
        out["reply_to"] = data.reply_to
    return out


def after_commit(case: Case, kind: str, actor: User | None, role: str) -> None:
    number, state = case.number, case.state
    actor_id = actor.pk if actor else None

    def run():
        log.info("case moved", extra={"case": number, "kind": kind, "state": state, "actor": actor_id, "role": role})
        hooks.case_changed(number=number, kind=kind, state=state)

    transaction.on_commit(run)


# ---------------------------------------------------------------- the verbs


def accept(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    """受理."""
    return _move(number, Action.ACCEPT, actor=actor, version=version, at=at, data=data or MoveInput())


def reject(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """不予受理 (terminal)."""
    return _move(number, Action.REJECT, actor=actor, version=version, at=at, data=data)


def _set_assignee(case, data, changes):
    changes["assignee"] = data.assignee


def send_verify(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """派核实: an inspector goes to see whether the reported problem is there."""
    return _move(number, Action.SEND_VERIFY, actor=actor, version=version, at=at, data=data, apply=_set_assignee)


def verify(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """核实 result: ``found`` says whether the problem is there."""

    def apply(case, data, changes):
        changes["verification_found"] = data.found

    return _move(number, Action.VERIFY, actor=actor, version=version, at=at, data=data, apply=apply)


def self_dispose(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """自行处置: the reporting inspector fixed it on the spot (before/after photos)."""
    return _move(number, Action.SELF_DISPOSE, actor=actor, version=version, at=at, data=data)


def refuse_self_disposal(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.REFUSE_SELF_DISPOSAL, actor=actor, version=version, at=at, data=data)


def file(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """立案, optionally correcting the category, with the filing condition that fixes the limit."""

    def apply(case, data, changes):
        if data.category is not None:
            changes["category"] = data.category
        changes["condition"] = data.condition or case.condition
        changes["filed_at"] = at
        if data.category is not None:
            case.category = data.category
        proposal, unit_code = routing.propose_for(case)
        case.proposed_unit_code = unit_code  # for the event; not a column
        changes["proposed_unit_id"] = proposal.unit_id
        changes["routing_step"] = proposal.step.value
        changes["routing_rule_id"] = proposal.rule_id

    return _move(number, Action.FILE, actor=actor, version=version, at=at, data=data, apply=apply)


def void(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """作废 (terminal)."""
    return _move(number, Action.VOID, actor=actor, version=version, at=at, data=data)


def dispatch(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """派遣 (and re-dispatch after an approved return): to ``data.unit``, or without one to
    the unit routing proposed at filing. Choosing another unit is recorded as an override."""

    def apply(case, data, changes):
        changes["unit"] = data.unit or case.proposed_unit
        changes["dispatched_at"] = at
        changes["received_at"] = None

    return _move(number, Action.DISPATCH, actor=actor, version=version, at=at, data=data, apply=apply)


def receive(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    """签收: the unit takes the dispatched case on (once per dispatch; the clock runs on)."""

    def apply(case, data, changes):
        changes["received_at"] = at

    return _move(number, Action.RECEIVE, actor=actor, version=version, at=at, data=data or MoveInput(), apply=apply)


def dispose(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """处置反馈: the unit reports what it did, with photos."""
    return _move(number, Action.DISPOSE, actor=actor, version=version, at=at, data=data)


def request_return(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.REQUEST_RETURN, actor=actor, version=version, at=at, data=data)


def approve_return(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    def apply(case, data, changes):
        changes["return_count"] = case.return_count + 1
        changes["unit"] = None

    return _move(
        number, Action.APPROVE_RETURN, actor=actor, version=version, at=at, data=data or MoveInput(), apply=apply
    )


def deny_return(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.DENY_RETURN, actor=actor, version=version, at=at, data=data)


def request_extension(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.REQUEST_EXTENSION, actor=actor, version=version, at=at, data=data)


def _requested_extension(case: Case) -> tuple[float, str]:
    event = case.events.filter(kind=Action.REQUEST_EXTENSION).order_by("-seq").first()
    if event is None or "extension" not in event.data:
        raise InvalidInput("No extension request found on this case.", field="action")
    return event.data["extension"]["value"], event.data["extension"]["unit"]


def approve_extension(
    number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None
) -> Case:
    """延期 approved: the disposal deadline moves by the requested time, or by the
    approver's own figure when given."""
    data = data or MoveInput()

    def apply(case, data, changes):
        changes["extension_count"] = case.extension_count + 1

    def extend_by(case, data) -> dt.timedelta:
        if data.extension_value is not None:
            _g_extension(case, None, data)
            return to_limit(data.extension_value, data.extension_unit).duration
        return to_limit(*_requested_extension(case)).duration

    return _move(
        number,
        Action.APPROVE_EXTENSION,
        actor=actor,
        version=version,
        at=at,
        data=data,
        apply=apply,
        extend_by=extend_by,
    )


def deny_extension(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.DENY_EXTENSION, actor=actor, version=version, at=at, data=data)


def request_suspension(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.REQUEST_SUSPENSION, actor=actor, version=version, at=at, data=data)


def approve_suspension(
    number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None
) -> Case:
    """挂账/缓办: the disposal clock stops with the time that is left."""

    def apply(case, data, changes):
        changes["suspension_count"] = case.suspension_count + 1

    return _move(
        number, Action.APPROVE_SUSPENSION, actor=actor, version=version, at=at, data=data or MoveInput(), apply=apply
    )


def deny_suspension(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.DENY_SUSPENSION, actor=actor, version=version, at=at, data=data)


def resume(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    """挂账恢复: the clock restarts with the time that was left."""
    return _move(number, Action.RESUME, actor=actor, version=version, at=at, data=data or MoveInput())


def send_check(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """派核查: an inspector goes to check the unit's work."""
    return _move(number, Action.SEND_CHECK, actor=actor, version=version, at=at, data=data, apply=_set_assignee)


def check_pass(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    return _move(number, Action.CHECK_PASS, actor=actor, version=version, at=at, data=data or MoveInput())


def check_fail(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    return _move(number, Action.CHECK_FAIL, actor=actor, version=version, at=at, data=data)


def rework(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    """返工: back to the same unit with a fresh disposal limit."""

    def apply(case, data, changes):
        changes["rework_count"] = case.rework_count + 1
        changes["received_at"] = None

    return _move(number, Action.REWORK, actor=actor, version=version, at=at, data=data or MoveInput(), apply=apply)


def close(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput | None = None) -> Case:
    """结案 (terminal)."""
    return _move(number, Action.CLOSE, actor=actor, version=version, at=at, data=data or MoveInput())


def urge(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """督办: a leader or shift lead presses for action, with a reply due."""

    def apply(case, data, changes):
        changes["urge_count"] = case.urge_count + 1

    return _move(number, Action.URGE, actor=actor, version=version, at=at, data=data, apply=apply)


def merge(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """合并: a duplicate joins the surviving case (terminal for the duplicate)."""

    def apply(case, data, changes):
        changes["merged_into"] = data.target

    return _move(number, Action.MERGE, actor=actor, version=version, at=at, data=data, apply=apply)


def note(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """备注 / 补充照片."""
    return _move(number, Action.NOTE, actor=actor, version=version, at=at, data=data)


def rate(number: str, *, actor: User | None, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """市民评价: the reporter gives the result 1–5 stars (once per closing), with an optional remark."""
    return _move(number, Action.RATE, actor=actor, version=version, at=at, data=data)


def reopen(number: str, *, actor: User | None, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """市民反映未解决: the reporter says the closed case is not fixed; the centre decides again."""
    return _move(number, Action.REOPEN, actor=actor, version=version, at=at, data=data)


def uphold(number: str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """维持结案: the centre finds the closing was right (reason required, shown to the reporter)."""
    return _move(number, Action.UPHOLD, actor=actor, version=version, at=at, data=data)


# 回访: after a case from a caller closes, an operator calls back and records the answer.
CALLBACK_OUTCOMES = {"satisfied": "满意", "unsatisfied": "不满意", "unreachable": "未接通"}
CALLBACK_SOURCES = frozenset({Source.HOTLINE, Source.CITIZEN, Source.WEB, Source.OPEN311})


def awaiting_callback(cases):
    """Of ``cases`` (a queryset), the closed ones from callers that nobody has called back yet."""
    return (
        cases.filter(state=State.CLOSED, source__in=CALLBACK_SOURCES)
        .exclude(reporter_phone="")
        .exclude(events__kind=Action.NOTE.value, events__data__has_key="callback")
    )


def record_callback(number: str, *, actor: User, version: int, at: dt.datetime, outcome: str, remark: str = "") -> Case:
    """Record a call-back on a closed case as a note event carrying ``callback``: the
    outcome goes into the case's hash-chained record like every other fact."""
    if outcome not in CALLBACK_OUTCOMES:
        raise InvalidInput(
            f"Unknown call-back outcome '{outcome}' (use one of: {', '.join(CALLBACK_OUTCOMES)}).", field="outcome"
        )
    case = Case.objects.filter(number=number).only("state", "source", "reporter_phone").first()
    if case is None:
        raise NotFound(f"No case numbered {number}.", field="number")
    if case.state != State.CLOSED or case.source not in CALLBACK_SOURCES or not case.reporter_phone:
        raise InvalidInput(
            "Only closed cases reported by a caller with a phone number get a call-back.", field="number"
        )
    text = f"回访：{CALLBACK_OUTCOMES[outcome]}" + (f"。{remark.strip()}" if remark.strip() else "")
    return _move(
        number, Action.NOTE, actor=actor, version=version, at=at, data=MoveInput(reason=text, callback=outcome)
    )


VERBS: dict[Action, Callable[..., Case]] = {
    Action.ACCEPT: accept,
    Action.REJECT: reject,
    Action.SEND_VERIFY: send_verify,
    Action.VERIFY: verify,
    Action.SELF_DISPOSE: self_dispose,
    Action.REFUSE_SELF_DISPOSAL: refuse_self_disposal,
    Action.FILE: file,
    Action.VOID: void,
    Action.DISPATCH: dispatch,
    Action.RECEIVE: receive,
    Action.DISPOSE: dispose,
    Action.REQUEST_RETURN: request_return,
    Action.APPROVE_RETURN: approve_return,
    Action.DENY_RETURN: deny_return,
    Action.REQUEST_EXTENSION: request_extension,
    Action.APPROVE_EXTENSION: approve_extension,
    Action.DENY_EXTENSION: deny_extension,
    Action.REQUEST_SUSPENSION: request_suspension,
    Action.APPROVE_SUSPENSION: approve_suspension,
    Action.DENY_SUSPENSION: deny_suspension,
    Action.RESUME: resume,
    Action.SEND_CHECK: send_check,
    Action.CHECK_PASS: check_pass,
    Action.CHECK_FAIL: check_fail,
    Action.REWORK: rework,
    Action.CLOSE: close,
    Action.URGE: urge,
    Action.MERGE: merge,
    Action.NOTE: note,
    Action.RATE: rate,
    Action.REOPEN: reopen,
    Action.UPHOLD: uphold,
}
assert set(VERBS) == set(Action), "every action of the lifecycle table needs its verb"


def act(number: str, action: Action | str, *, actor: User, version: int, at: dt.datetime, data: MoveInput) -> Case:
    """Run the verb named by ``action`` (the API's single entry point)."""
    try:
        verb = VERBS[Action(action)]
    except ValueError:
        raise InvalidInput(f"Unknown action '{action}'.", field="action") from None
    return verb(number, actor=actor, version=version, at=at, data=data)
