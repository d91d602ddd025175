"""The counters evaluation is built from: one table, the single list of names every other
part refers to.

A counter is a count (or, for ``handling_seconds``, a sum) of facts in a case's history,
dated by a day (local time) and credited to a *subject*: a unit grid (regions are rolled
up from their grids), a responsible unit, or a person in a post. Counters are kept per day
and per month in the database as events are written, and are rebuilt from the event log by
``citykeeper evaluate --rebuild`` with identical results (both run ``contributions``).

Every indicator of ``indicators`` is a counter or a ratio of counters; the definitions
below are the ones written out, with the standard's formula, in ``docs/evaluation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Subject(StrEnum):
    GRID = "grid"  # 单元网格; community, street office and district are sums of their grids
    UNIT = "unit"  # 责任单位 (专业部门 or 街道), the unit a dispatch went to
    INSPECTOR = "inspector"  # 监督员
    OPERATOR = "operator"  # 受理员
    SHIFT_LEAD = "shift_lead"  # 值班长
    DISPATCHER = "dispatcher"  # 派遣员
    CONTRACTOR = "contractor"  # 监督员外包公司: no counters of its own (``ROLLED_UP``)


GRID, UNIT, INSP = Subject.GRID, Subject.UNIT, Subject.INSPECTOR
OPER, LEAD, DISP = Subject.OPERATOR, Subject.SHIFT_LEAD, Subject.DISPATCHER

# Subjects credited with nothing, scored on the sums of another kind's counters: an inspection
# contractor on those of its inspectors (for the days each worked for it), as a street is
# scored on its grids'. Its indicators are that kind's.
ROLLED_UP: dict[Subject, Subject] = {Subject.CONTRACTOR: Subject.INSPECTOR}


def counted_as(subject: Subject) -> Subject:
    """The subject kind whose counters ``subject`` is scored on (itself, for most)."""
    return ROLLED_UP.get(subject, subject)


# Sources that count as 公众举报 (a report the inspectors did not make): the 漏报 of a grid.
PUBLIC_SOURCES = frozenset({"citizen", "hotline", "web", "open311"})


@dataclass(frozen=True)
class CounterDef:
    name: str
    label: str  # 中文 name as used in bulletins
    subjects: tuple[Subject, ...]  # who is credited
    dated_by: str  # which day the count falls on
    definition: str  # in words, for docs/evaluation.md and the drill-down page


def _c(name, label, subjects, dated_by, definition) -> CounterDef:
    return CounterDef(name, label, tuple(subjects), dated_by, definition)


# A "stage instance" is one run of a timed stage (from the event that starts it to the event
# that stops it). It is *due* (应…) in the period in which it ended, or, while it has not
# ended, in the period in which its deadline passed (the ticker's ``overdue`` event). A
# returned disposal (回退 approved) is not due for the unit: the dispatch was wrong.
COUNTERS: tuple[CounterDef, ...] = (
    _c(
        "reported",
        "上报数",
        (GRID, INSP),
        "report",
        "every report; credited to the reporting inspector when the source is an inspector",
    ),
    _c("reported_public", "公众举报数", (GRID,), "report", "reports from citizens, hotline, web portal and Open311"),
    _c(
        "valid_report",
        "有效上报数",
        (GRID, INSP),
        "report",
        "reports later filed (立案) or disposed on the spot (自行处置)",
    ),
    _c("accepted", "受理数", (GRID, OPER), "accept", "accept events (受理), credited to the operator"),
    _c(
        "verify_sent_due",
        "应核实派发数",
        (OPER,),
        "stage end or deadline",
        "stage instances of 受理 ended by sending a verify task, or overdue before it",
    ),
    _c(
        "verify_sent_on_time",
        "核实按时派发数",
        (OPER,),
        "send_verify",
        "verify tasks sent within the accept stage's limit",
    ),
    _c(
        "verify_due",
        "应核实数",
        (INSP,),
        "stage end or deadline",
        "verify tasks (核实) ended or overdue, credited to the assigned inspector",
    ),
    _c("verified_on_time", "按时核实数", (INSP,), "verify", "verify tasks done within the limit"),
    _c(
        "check_sent_due",
        "应核查派发数",
        (OPER,),
        "stage end or deadline",
        "disposed cases whose check task was sent or is overdue",
    ),
    _c("check_sent_on_time", "核查按时派发数", (OPER,), "send_check", "check tasks sent within the limit"),
    _c(
        "check_due",
        "应核查数",
        (INSP,),
        "stage end or deadline",
        "check tasks (核查) ended or overdue, credited to the assigned inspector",
    ),
    _c("checked_on_time", "按时核查数", (INSP,), "check_pass / check_fail", "check tasks done within the limit"),
    _c("self_disposed", "自行处置数", (GRID, INSP), "self_dispose", "cases the inspector disposed on the spot"),
    _c("filed", "立案数", (GRID, LEAD), "file", "file events (立案), credited to the shift lead"),
    _c("filed_on_time", "按时立案数", (LEAD,), "file", "filed within the filing stage's limit"),
    _c("filed_accurately", "准确立案数", (LEAD,), "file", "filed cases not voided afterwards (立案数 − 作废数)"),
    _c(
        "missed", "漏报数", (GRID,), "file", "public reports filed: problems the grid's inspectors should have reported"
    ),
    _c("voided", "作废数", (GRID,), "void", "void events (作废)"),
    _c(
        "dispatched",
        "派遣数",
        (GRID, UNIT, DISP),
        "dispatch",
        "dispatch events, credited to the unit and the dispatcher",
    ),
    _c("dispatched_on_time", "按时派遣数", (DISP,), "dispatch", "dispatched within the dispatch stage's limit"),
    _c(
        "dispatched_accurately", "准确派遣数", (DISP,), "dispatch", "dispatches not returned (回退 approved) afterwards"
    ),
    _c(
        "dispose_due",
        "应处置数",
        (GRID, UNIT),
        "stage end or deadline",
        "disposal stage instances disposed or overdue (returned ones excluded)",
    ),
    _c("disposed", "处置数", (GRID, UNIT), "dispose", "dispose events (处置反馈)"),
    _c("disposed_on_time", "按期处置数", (GRID, UNIT), "dispose", "disposed within the limit (extensions included)"),
    _c(
        "overdue_undisposed",
        "超期未处置数",
        (GRID, UNIT),
        "deadline",
        "disposal stage instances past their deadline and not disposed",
    ),
    _c(
        "close_due",
        "应结案数",
        (GRID, UNIT, LEAD),
        "close or deadline",
        "filed cases closed, or past the disposal deadline and not closed",
    ),
    _c("closed", "结案数", (GRID, UNIT, LEAD), "close", "close events (结案) of filed cases"),
    _c("closed_on_time", "按期结案数", (GRID, UNIT), "close", "closed cases whose last disposal was within its limit"),
    _c(
        "close_stage_on_time",
        "按时结案数",
        (LEAD,),
        "close",
        "closed within the closing stage's limit, credited to the shift lead",
    ),
    _c(
        "overdue_unclosed",
        "超期未结案数",
        (GRID, UNIT),
        "deadline",
        "filed cases past the disposal deadline and not closed",
    ),
    _c("rework", "返工数", (GRID, UNIT), "rework", "rework events (返工), credited to the unit whose disposal failed"),
    _c(
        "returned",
        "回退数",
        (GRID, UNIT),
        "approve_return",
        "approved returns (回退), credited to the unit that returned",
    ),
    _c("extended", "延期数", (GRID, UNIT), "approve_extension", "approved extensions (延期)"),
    _c("suspended", "挂账数", (GRID, UNIT), "approve_suspension", "approved suspensions (挂账/缓办)"),
    _c("urged", "督办数", (GRID, UNIT), "urge", "urges (督办)"),
    _c("reopened", "反映未解决数", (GRID, UNIT), "reopen", "citizens saying a closed case is not fixed"),
    _c(
        "handling_seconds",
        "办理总时长（秒）",
        (GRID, UNIT),
        "close",
        "sum over closed cases of close time − report time, in seconds",
    ),
    # 抽查 (random re-verification, ``sampling``): kept with the sampled items, not with the
    # cases' events, and counted once a result is recorded. A case is dated by the day it was
    # closed, a patrol-area grid by the last day of the round's period.
    _c(
        "sample_cases",
        "抽查案件数",
        (UNIT,),
        "sampling",
        "closed cases drawn at random and re-checked on the spot, credited to the unit that closed them",
    ),
    _c("sample_passed", "抽查合格数", (UNIT,), "sampling", "sampled closed cases found really fixed (合格)"),
    # The same re-checks judge the inspector whose 核查通过 (check_pass) let the case close: a case
    # found not fixed was passed at 核查 untruly (核查失实). Credited to the inspector of the last
    # check_pass before the closing (0 when the case closed without one).
    _c(
        "sample_checked",
        "抽查核查案件数",
        (INSP,),
        "sampling",
        "sampled closed cases re-checked, credited to the inspector who passed their 核查 before the closing",
    ),
    _c(
        "sample_checked_failed",
        "抽查核查失实数",
        (INSP,),
        "sampling",
        "of those, cases found not fixed (不合格): the inspector's 核查通过 was untrue (核查失实)",
    ),
    _c(
        "sample_grids",
        "抽查网格数",
        (INSP,),
        "sampling",
        "patrol-area grids drawn at random and re-checked, credited to the inspector who patrols them",
    ),
    _c(
        "sample_grids_missed",
        "抽查漏报网格数",
        (INSP,),
        "sampling",
        "sampled grids where the re-check found problems the inspector had not reported",
    ),
    _c(
        "sample_missed",
        "抽查发现漏报数",
        (INSP,),
        "sampling",
        "problems the re-checks found in sampled grids that the inspector had not reported",
    ),
)

# The counters kept by ``sampling``, never by a case's contributions.
SAMPLE_COUNTERS = (
    "sample_cases",
    "sample_passed",
    "sample_checked",
    "sample_checked_failed",
    "sample_grids",
    "sample_grids_missed",
    "sample_missed",
)

BY_NAME: dict[str, CounterDef] = {c.name: c for c in COUNTERS}
NAMES = tuple(BY_NAME)
