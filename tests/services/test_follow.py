"""The reporter's side: a private follow link, rating the result, "not fixed" reopening the
case for the centre to decide (re-check, rework or uphold), and following a merged report."""

from __future__ import annotations

import datetime as dt

import pytest

from citykeeper.domain.errors import InvalidInput, NotPermitted
from citykeeper.services import cases as svc
from citykeeper.services import follow
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent, FollowLink
from tests.factories import MONDAY_9AM, close_case, report_case

LATER = MONDAY_9AM + dt.timedelta(hours=2)


@pytest.fixture
def portal_case(city, people):
    case, token = follow.report(
        actor=None,
        category=city.category,
        area=city.grid,
        lon=117.18,
        lat=34.255,
        at=MONDAY_9AM,
        description="人行道井盖不见了",
        reporter_phone="13800000000",
    )
    return case, token


def test_a_portal_report_is_a_web_case_with_a_private_link_whose_token_is_not_stored(portal_case):
    case, token = portal_case
    assert case.source == "web" and case.state == "reported"
    assert case.events.get().actor_role == "citizen"
    assert follow.case_for_link(token) == case
    assert not FollowLink.objects.filter(token_hash=token).exists()  # only the hash is kept
    assert follow.case_for_link("not-a-token") is None and follow.case_for_link("x" * 500) is None


def test_an_empty_description_is_refused_and_nothing_is_stored(city):
    with pytest.raises(InvalidInput) as refused:
        follow.report(
            actor=None, category=city.category, area=city.grid, lon=117.18, lat=34.255, at=MONDAY_9AM, description="  "
        )
    assert refused.value.field == "description"
    assert Case.objects.count() == 0 and FollowLink.objects.count() == 0


def test_a_double_submit_with_one_key_makes_one_case_and_one_link(city):
    kw = dict(category=city.category, area=city.grid, lon=117.18, lat=34.255, at=MONDAY_9AM, description="路灯不亮")
    first, token = follow.report(actor=None, idempotency_key="portal-1", **kw)
    again, no_token = follow.report(actor=None, idempotency_key="portal-1", **kw)
    assert again == first and token and no_token is None
    assert Case.objects.count() == 1 and FollowLink.objects.count() == 1


def test_the_reporter_rates_a_closed_case_once(city, people, portal_case):
    case, token = portal_case
    close_case(city, people, case)
    rated = follow.rate(token, stars=4, remark="修得挺快", at=LATER)
    assert rated.state == "closed"
    event = rated.events.order_by("-seq").first()
    assert (event.kind, event.actor_role, event.data["rating"], event.reason) == ("rate", "citizen", 4, "修得挺快")
    with pytest.raises(InvalidInput, match="already rated"):
        follow.rate(token, stars=1, remark="", at=LATER)
    with pytest.raises(InvalidInput, match="1 to 5"):
        case2, token2 = follow.report(
            actor=None, category=city.category, area=city.grid, lon=117.18, lat=34.255, at=MONDAY_9AM, description="x"
        )
        close_case(city, people, case2)
        follow.rate(token2, stars=6, remark="", at=LATER)


def test_rating_does_not_move_the_closing_time(city, people, portal_case):
    case, token = portal_case
    closed = close_case(city, people, case)
    closed_at = Case.objects.get(pk=closed.pk).closed_at
    follow.rate(token, stars=5, remark="", at=LATER)
    assert Case.objects.get(pk=case.pk).closed_at == closed_at


def test_not_fixed_reopens_the_case_for_the_operator_with_the_accept_clock(city, people, portal_case):
    case, token = portal_case
    close_case(city, people, case)
    reopened = follow.reopen(token, reason="井盖还是没有装", at=LATER)
    assert reopened.state == "reopened" and reopened.stage == "accept" and reopened.closed_at is None
    event = reopened.events.order_by("-seq").first()
    assert (event.kind, event.from_state, event.to_state, event.reason) == (
        "reopen",
        "closed",
        "reopened",
        "井盖还是没有装",
    )


def test_the_centre_sends_an_inspector_again_and_a_failed_check_goes_back_to_the_unit(city, people, portal_case):
    case, token = portal_case
    close_case(city, people, case)
    case = follow.reopen(token, reason="没修好", at=LATER)
    t = LATER
    case = svc.send_check(
        case.number, actor=people.operator, version=case.version, at=t, data=MoveInput(assignee=people.inspector)
    )
    case = svc.check_fail(
        case.number, actor=people.inspector, version=case.version, at=t, data=MoveInput(reason="井盖仍缺失")
    )
    case = svc.rework(case.number, actor=people.shift_lead, version=case.version, at=t)
    assert case.state == "dispatched" and Case.objects.get(pk=case.pk).rework_count == 1


def test_the_centre_may_uphold_the_closing_with_a_reason(city, people, portal_case):
    case, token = portal_case
    close_case(city, people, case)
    case = follow.reopen(token, reason="没修好", at=LATER)
    with pytest.raises(InvalidInput, match="reason"):
        svc.uphold(case.number, actor=people.operator, version=case.version, at=LATER, data=MoveInput())
    case = svc.uphold(
        case.number,
        actor=people.operator,
        version=case.version,
        at=LATER,
        data=MoveInput(reason="现场已修复，照片为证"),
    )
    assert case.state == "closed" and Case.objects.get(pk=case.pk).closed_at == LATER


def test_reopening_is_refused_before_closing_after_thirty_days_and_after_two_reopens(city, people, portal_case):
    case, token = portal_case
    with pytest.raises(Exception, match="not possible"):
        follow.reopen(token, reason="还没修", at=LATER)
    close_case(city, people, case)
    with pytest.raises(NotPermitted, match="30 days"):
        follow.reopen(token, reason="还没修", at=MONDAY_9AM + dt.timedelta(days=31))
    for _ in range(2):
        case = follow.reopen(token, reason="还没修", at=LATER)
        case = svc.uphold(
            case.number, actor=people.operator, version=case.version, at=LATER, data=MoveInput(reason="已修")
        )
    events_before = CaseEvent.objects.count()
    with pytest.raises(NotPermitted, match="2 times"):
        follow.reopen(token, reason="还没修", at=LATER)
    assert CaseEvent.objects.count() == events_before


def test_only_the_reporter_may_rate_or_reopen_and_staff_may_not_through_the_table(city, people):
    case = report_case(city, people, source="citizen")
    case = close_case(city, people, case)
    other_citizen_case = report_case(city, people, source="citizen")
    with pytest.raises(NotPermitted):
        svc.reopen(case.number, actor=people.operator, version=case.version, at=LATER, data=MoveInput(reason="x"))
    # The reporting citizen, signed in, may: the same rule as the link holder.
    case = svc.rate(case.number, actor=people.citizen, version=case.version, at=LATER, data=MoveInput(rating=3))
    assert case.events.order_by("-seq").first().actor_role == "citizen"
    assert other_citizen_case.state == "reported"


def test_an_inspector_report_cannot_be_reopened_by_its_reporter(city, people):
    case = close_case(city, people, report_case(city, people))
    with pytest.raises(NotPermitted):
        svc.reopen(case.number, actor=people.inspector, version=case.version, at=LATER, data=MoveInput(reason="x"))


def test_a_merged_report_follows_the_surviving_case(city, people, portal_case):
    case, token = portal_case
    survivor = report_case(city, people, source="citizen")
    svc.merge(case.number, actor=people.operator, version=case.version, at=LATER, data=MoveInput(target=survivor))
    merged = follow.case_for_link(token)
    assert merged.state == "merged" and follow.surviving(merged) == survivor
