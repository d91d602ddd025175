"""The case lifecycle as one table.

``TRANSITIONS[(state, action)]`` says where a move leads, who may make it and what
it does to the stage clock. Services, the API's "allowed actions" and the tests all
read this table; nothing else decides whether a move is legal.

Every state that someone must act on is a *stage* with a time limit (``STATE_STAGE``).
Entering such a state starts that stage's clock unless the transition says to keep
the running clock (a pending request does not stop the disposal clock) or to pause
it (suspension, 挂账/缓办).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from citykeeper.domain.errors import IllegalMove, NotPermitted


class Role(StrEnum):
    INSPECTOR = "inspector"  # 监督员 / 信息采集员
    OPERATOR = "operator"  # 受理员 / 坐席员
    SHIFT_LEAD = "shift_lead"  # 值班长
    DISPATCHER = "dispatcher"  # 派遣员
    UNIT_HANDLER = "unit_handler"  # 专业部门 / 处置单位
    LEADER = "leader"  # 领导
    EVALUATOR = "evaluator"  # 考评员
    ADMIN = "admin"  # 系统管理员
    CITIZEN = "citizen"  # 市民


class State(StrEnum):
    REPORTED = "reported"  # 已上报, waiting for the operator (受理)
    VERIFYING = "verifying"  # 核实中: an inspector has the verify task
    VERIFIED = "verified"  # 已核实, back with the operator
    SELF_DISPOSED = "self_disposed"  # 自行处置, waiting for review and closing
    ACCEPTED = "accepted"  # 已受理, waiting for filing (立案)
    FILED = "filed"  # 已立案, waiting for dispatch (派遣)
    DISPATCHED = "dispatched"  # 已派遣, the unit is disposing (处置中)
    RETURN_REQUESTED = "return_requested"  # 回退申请中
    EXTENSION_REQUESTED = "extension_requested"  # 延期申请中
    SUSPENSION_REQUESTED = "suspension_requested"  # 挂账申请中
    SUSPENDED = "suspended"  # 挂账/缓办: clock paused
    DISPOSED = "disposed"  # 已处置反馈, waiting for the check task (派核查)
    CHECKING = "checking"  # 核查中: an inspector has the check task
    CHECK_FAILED = "check_failed"  # 核查未通过, waiting for the rework decision
    CHECKED = "checked"  # 核查通过, waiting for closing (结案)
    CLOSED = "closed"  # 结案
    REOPENED = "reopened"  # 市民反映未解决: back with the operator to decide (re-check, rework or uphold)
    REJECTED = "rejected"  # 不予受理
    VOIDED = "voided"  # 作废
    MERGED = "merged"  # 已合并 into another case


TERMINAL_STATES = frozenset({State.CLOSED, State.REJECTED, State.VOIDED, State.MERGED})
OPEN_STATES = frozenset(State) - TERMINAL_STATES


class Stage(StrEnum):
    """Stages that carry a time limit (环节时限)."""

    ACCEPT = "accept"  # 受理
    VERIFY = "verify"  # 核实
    FILE = "file"  # 立案
    DISPATCH = "dispatch"  # 派遣
    DISPOSE = "dispose"  # 处置
    CHECK = "check"  # 核查 (sending the task and the inspector's check)
    CLOSE = "close"  # 结案


# Which stage clock runs while a case sits in each state. States that are absent
# carry no clock of their own (terminal states; suspension keeps the paused clock).
STATE_STAGE: dict[State, Stage] = {
    State.REPORTED: Stage.ACCEPT,
    State.VERIFYING: Stage.VERIFY,
    State.VERIFIED: Stage.ACCEPT,
    State.SELF_DISPOSED: Stage.CLOSE,
    State.ACCEPTED: Stage.FILE,
    State.FILED: Stage.DISPATCH,
    State.DISPATCHED: Stage.DISPOSE,
    State.RETURN_REQUESTED: Stage.DISPOSE,
    State.EXTENSION_REQUESTED: Stage.DISPOSE,
    State.SUSPENSION_REQUESTED: Stage.DISPOSE,
    State.SUSPENDED: Stage.DISPOSE,
    State.DISPOSED: Stage.CHECK,
    State.CHECKING: Stage.CHECK,
    State.CHECK_FAILED: Stage.CLOSE,
    State.CHECKED: Stage.CLOSE,
    State.REOPENED: Stage.ACCEPT,
}


class Action(StrEnum):
    ACCEPT = "accept"  # 受理
    REJECT = "reject"  # 不予受理
    SEND_VERIFY = "send_verify"  # 派核实
    VERIFY = "verify"  # 核实 (result: found or not)
    SELF_DISPOSE = "self_dispose"  # 自行处置 (inspector solved it on the spot)
    REFUSE_SELF_DISPOSAL = "refuse_self_disposal"  # 自处置审核不通过 → normal filing
    FILE = "file"  # 立案
    VOID = "void"  # 作废
    DISPATCH = "dispatch"  # 派遣 (and re-dispatch after a return)
    RECEIVE = "receive"  # 签收: the unit has seen the dispatch and taken it on
    DISPOSE = "dispose"  # 处置反馈
    REQUEST_RETURN = "request_return"  # 申请回退
    APPROVE_RETURN = "approve_return"
    DENY_RETURN = "deny_return"
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REQUEST_SUSPENSION = "request_suspension"  # 申请挂账/缓办
    APPROVE_SUSPENSION = "approve_suspension"
    DENY_SUSPENSION = "deny_suspension"
    RESUME = "resume"  # 挂账恢复
    SEND_CHECK = "send_check"  # 派核查
    CHECK_PASS = "check_pass"  # 核查通过
    CHECK_FAIL = "check_fail"  # 核查不通过
    REWORK = "rework"  # 返工 (back to the unit)
    CLOSE = "close"  # 结案
    URGE = "urge"  # 督办
    MERGE = "merge"  # 合并 into another case
    NOTE = "note"  # 备注 / 补充照片
    RATE = "rate"  # 市民评价 (1–5 stars) of the result
    REOPEN = "reopen"  # 市民反映"未解决": the reporter says the closed case is not fixed
    UPHOLD = "uphold"  # 维持结案: the operator finds the closing right after all


class Clock(StrEnum):
    """What a move does to the stage clock."""

    START = "start"  # stop the running stage (record its outcome), start the next state's stage
    KEEP = "keep"  # the running stage clock goes on (a request pending approval)
    PAUSE = "pause"  # freeze the remaining time (suspension)
    RESUME = "resume"  # restart with the remaining time
    STOP = "stop"  # record the outcome, no further clock (terminal)
    NONE = "none"  # not a state change (note, urge)


@dataclass(frozen=True)
class Transition:
    state: State
    action: Action
    to: State
    roles: frozenset[Role]
    clock: Clock
    # Extra rules the service checks, by name (see ``GUARDS`` in services).
    guards: tuple[str, ...] = ()
    # A reason text is required from the actor (rejections, requests, denials).
    needs_reason: bool = False


_R = Role
_S = State
_A = Action
_C = Clock

_CENTRE_DESK = frozenset({_R.OPERATOR, _R.SHIFT_LEAD})
_APPROVERS = frozenset({_R.DISPATCHER, _R.SHIFT_LEAD})
_ANY_STAFF = frozenset({_R.INSPECTOR, _R.OPERATOR, _R.SHIFT_LEAD, _R.DISPATCHER, _R.UNIT_HANDLER, _R.LEADER, _R.ADMIN})


def _t(state, action, to, roles, clock, *, guards=(), needs_reason=False):
    roles = frozenset({roles}) if isinstance(roles, Role) else frozenset(roles)
    return Transition(state, action, to, roles, clock, tuple(guards), needs_reason)


_ROWS: list[Transition] = [
    # 受理: the operator takes a report, or sends an inspector to verify it first.
    _t(_S.REPORTED, _A.ACCEPT, _S.ACCEPTED, _CENTRE_DESK, _C.START, guards=("source_needs_no_verification",)),
    _t(_S.REPORTED, _A.REJECT, _S.REJECTED, _CENTRE_DESK, _C.STOP, needs_reason=True),
    _t(_S.REPORTED, _A.SEND_VERIFY, _S.VERIFYING, _R.OPERATOR, _C.START, guards=("inspector_assignee",)),
    _t(_S.VERIFYING, _A.VERIFY, _S.VERIFIED, _R.INSPECTOR, _C.START, guards=("is_task_assignee", "found_given")),
    _t(_S.VERIFIED, _A.ACCEPT, _S.ACCEPTED, _CENTRE_DESK, _C.START, guards=("verification_found",)),
    _t(_S.VERIFIED, _A.REJECT, _S.REJECTED, _CENTRE_DESK, _C.STOP, needs_reason=True),
    _t(_S.VERIFIED, _A.SEND_VERIFY, _S.VERIFYING, _R.OPERATOR, _C.START, guards=("inspector_assignee",)),
    # 自行处置: an inspector fixed a minor problem on the spot; the centre reviews and closes.
    _t(_S.REPORTED, _A.SELF_DISPOSE, _S.SELF_DISPOSED, _R.INSPECTOR, _C.START, guards=("is_reporter",)),
    _t(_S.SELF_DISPOSED, _A.CLOSE, _S.CLOSED, _CENTRE_DESK, _C.STOP),
    _t(_S.SELF_DISPOSED, _A.REFUSE_SELF_DISPOSAL, _S.ACCEPTED, _CENTRE_DESK, _C.START, needs_reason=True),
    # 立案 / 作废
    _t(_S.ACCEPTED, _A.FILE, _S.FILED, _R.SHIFT_LEAD, _C.START, guards=("has_filing_condition",)),
    _t(_S.ACCEPTED, _A.VOID, _S.VOIDED, _R.SHIFT_LEAD, _C.STOP, needs_reason=True),
    _t(_S.FILED, _A.VOID, _S.VOIDED, _R.SHIFT_LEAD, _C.STOP, needs_reason=True),
    # 派遣 and disposal
    _t(_S.FILED, _A.DISPATCH, _S.DISPATCHED, _R.DISPATCHER, _C.START, guards=("unit_given",)),
    _t(_S.DISPATCHED, _A.RECEIVE, _S.DISPATCHED, _R.UNIT_HANDLER, _C.NONE, guards=("not_received",)),
    _t(_S.DISPATCHED, _A.DISPOSE, _S.DISPOSED, _R.UNIT_HANDLER, _C.START, guards=("feedback_given",)),
    # 回退: not this unit's job → back to the dispatcher, who re-dispatches.
    _t(_S.DISPATCHED, _A.REQUEST_RETURN, _S.RETURN_REQUESTED, _R.UNIT_HANDLER, _C.KEEP, needs_reason=True),
    _t(_S.RETURN_REQUESTED, _A.APPROVE_RETURN, _S.FILED, _APPROVERS, _C.START),
    _t(_S.RETURN_REQUESTED, _A.DENY_RETURN, _S.DISPATCHED, _APPROVERS, _C.KEEP, needs_reason=True),
    # 延期: the approval moves the disposal deadline.
    _t(
        _S.DISPATCHED,
        _A.REQUEST_EXTENSION,
        _S.EXTENSION_REQUESTED,
        _R.UNIT_HANDLER,
        _C.KEEP,
        guards=("extension_given",),
        needs_reason=True,
    ),
    _t(_S.EXTENSION_REQUESTED, _A.APPROVE_EXTENSION, _S.DISPATCHED, _APPROVERS, _C.KEEP),
    _t(_S.EXTENSION_REQUESTED, _A.DENY_EXTENSION, _S.DISPATCHED, _APPROVERS, _C.KEEP, needs_reason=True),
    # 挂账/缓办: the clock stops until resumed with the time that was left.
    _t(_S.DISPATCHED, _A.REQUEST_SUSPENSION, _S.SUSPENSION_REQUESTED, _R.UNIT_HANDLER, _C.KEEP, needs_reason=True),
    _t(_S.SUSPENSION_REQUESTED, _A.APPROVE_SUSPENSION, _S.SUSPENDED, _APPROVERS, _C.PAUSE),
    _t(_S.SUSPENSION_REQUESTED, _A.DENY_SUSPENSION, _S.DISPATCHED, _APPROVERS, _C.KEEP, needs_reason=True),
    _t(_S.SUSPENDED, _A.RESUME, _S.DISPATCHED, frozenset({_R.DISPATCHER, _R.SHIFT_LEAD, _R.UNIT_HANDLER}), _C.RESUME),
    # 核查 and 结案, with the rework loop.
    _t(_S.DISPOSED, _A.SEND_CHECK, _S.CHECKING, _R.OPERATOR, _C.START, guards=("inspector_assignee",)),
    _t(_S.CHECKING, _A.CHECK_PASS, _S.CHECKED, _R.INSPECTOR, _C.START, guards=("is_task_assignee",)),
    _t(
        _S.CHECKING,
        _A.CHECK_FAIL,
        _S.CHECK_FAILED,
        _R.INSPECTOR,
        _C.START,
        guards=("is_task_assignee",),
        needs_reason=True,
    ),
    _t(_S.CHECK_FAILED, _A.REWORK, _S.DISPATCHED, frozenset({_R.SHIFT_LEAD, _R.DISPATCHER}), _C.START),
    _t(_S.CHECKED, _A.CLOSE, _S.CLOSED, _R.SHIFT_LEAD, _C.STOP),
    # The reporter rates the result and may say it is not fixed: the case comes back to the
    # centre, which sends an inspector to check again, orders rework, or upholds the closing.
    _t(_S.CLOSED, _A.RATE, _S.CLOSED, _R.CITIZEN, _C.NONE, guards=("rater_is_reporter", "rating_given")),
    _t(_S.CLOSED, _A.REOPEN, _S.REOPENED, _R.CITIZEN, _C.START, guards=("reopen_allowed",), needs_reason=True),
    _t(_S.REOPENED, _A.SEND_CHECK, _S.CHECKING, _R.OPERATOR, _C.START, guards=("inspector_assignee",)),
    _t(
        _S.REOPENED,
        _A.REWORK,
        _S.DISPATCHED,
        frozenset({_R.SHIFT_LEAD, _R.DISPATCHER}),
        _C.START,
        guards=("was_dispatched",),
    ),
    _t(_S.REOPENED, _A.UPHOLD, _S.CLOSED, _CENTRE_DESK, _C.STOP, needs_reason=True),
]

# 督办, notes and merging apply to many states; generate their rows instead of
# writing thirty near-identical lines.
for _state in sorted(OPEN_STATES):
    _ROWS.append(_t(_state, _A.URGE, _state, frozenset({_R.LEADER, _R.SHIFT_LEAD}), _C.NONE, needs_reason=True))
for _state in sorted(State):
    _ROWS.append(_t(_state, _A.NOTE, _state, _ANY_STAFF, _C.NONE, guards=("note_given",)))
for _state in (_S.REPORTED, _S.VERIFYING, _S.VERIFIED, _S.ACCEPTED, _S.FILED):
    _ROWS.append(_t(_state, _A.MERGE, _S.MERGED, _CENTRE_DESK, _C.STOP, guards=("merge_target_given",)))


TRANSITIONS: dict[tuple[State, Action], Transition] = {}
for _row in _ROWS:
    _key = (_row.state, _row.action)
    if _key in TRANSITIONS:  # a typo in the table must not silently shadow a row
        raise RuntimeError(f"duplicate transition {_key}")
    TRANSITIONS[_key] = _row


def transition_for(state: State | str, action: Action | str) -> Transition:
    """The row for this move, or ``IllegalMove`` naming what *is* possible."""
    try:
        state, action = State(state), Action(action)
    except ValueError as exc:
        raise IllegalMove(f"Unknown state or action: {exc}", field="action") from exc
    row = TRANSITIONS.get((state, action))
    if row is None:
        possible = ", ".join(a.value for a in actions_from(state)) or "none"
        raise IllegalMove(
            f"'{action.value}' is not possible for a case in state '{state.value}' (possible: {possible}).",
            field="action",
            state=state.value,
            action=action.value,
        )
    return row


def check_role(row: Transition, roles: frozenset[Role] | set[Role]) -> None:
    if not row.roles & set(roles):
        allowed = ", ".join(sorted(r.value for r in row.roles))
        raise NotPermitted(
            f"Role may not '{row.action.value}' a case in state '{row.state.value}' (allowed roles: {allowed}).",
            field="role",
        )


def actions_from(state: State | str) -> list[Action]:
    state = State(state)
    return [a for (s, a) in TRANSITIONS if s == state]


def allowed_actions(state: State | str, roles: frozenset[Role] | set[Role]) -> list[Action]:
    """Actions in this state that at least one of ``roles`` may take (guards not evaluated)."""
    state = State(state)
    return [row.action for (s, _), row in TRANSITIONS.items() if s == state and row.roles & set(roles)]


def as_markdown() -> str:
    """The table as documentation (docs/lifecycle.md is this output; a test keeps them equal)."""
    lines = [
        "| from state | action | to state | roles | clock | guards | reason required |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in sorted(TRANSITIONS.values(), key=lambda r: (list(State).index(r.state), list(Action).index(r.action))):
        if row.action in (Action.NOTE, Action.URGE):
            continue  # listed once below
        roles = ", ".join(sorted(r.value for r in row.roles))
        lines.append(
            f"| {row.state.value} | {row.action.value} | {row.to.value} | {roles} | {row.clock.value} "
            f"| {', '.join(row.guards) or '-'} | {'yes' if row.needs_reason else 'no'} |"
        )
    urge_roles = ", ".join(sorted(r.value for r in TRANSITIONS[(State.REPORTED, Action.URGE)].roles))
    note_roles = ", ".join(sorted(r.value for r in TRANSITIONS[(State.REPORTED, Action.NOTE)].roles))
    lines += [
        "",
        f"- `urge` (督办): every open state, stays in the state; roles {urge_roles}; reason required.",
        f"- `note` (备注/补充照片): every state including terminal ones, stays in the state; roles "
        f"{note_roles}; text or photo required.",
        "",
        "Stage clocks by state:",
        "",
        "| state | stage |",
        "| --- | --- |",
    ]
    lines += [f"| {state.value} | {stage.value} |" for state, stage in STATE_STAGE.items()]
    return "\n".join(lines) + "\n"
