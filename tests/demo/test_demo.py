"""The demo city: a small load through the real services, and what it must contain."""

from __future__ import annotations

import shapely
from django.db import transaction
from django.db.models import Count
from shapely.geometry import shape

from citykeeper import cli
from citykeeper.demo import DEMO_PASSWORD, DISTRICT_LOGINS, LOGINS, load_demo
from citykeeper.domain.workflow import OPEN_STATES, Role
from citykeeper.services.audit import verify_chains
from citykeeper.store.models import Area, Case, CaseEvent, Unit, User
from tests.factories import local

# A Friday afternoon in an ordinary week: the history covers the five days before it.
NOW = local(2026, 11, 20, 15, 30)


def _snapshot():
    return (
        Area.objects.count(),
        Unit.objects.count(),
        User.objects.count(),
        Case.objects.count(),
        CaseEvent.objects.count(),
    )


def test_a_small_demo_loads_through_the_services(db, capsys):
    summary = load_demo(now=NOW, days=5, cases_per_day=15)
    assert summary.loaded and summary.refused_steps == 0, summary.refused

    # The area tree: the real city and ten districts, generated streets, communities and grids.
    levels = dict(Area.objects.values_list("level").annotate(n=Count("id")).order_by())
    assert levels["city"] == 1 and levels["district"] == 10
    assert levels["street"] >= 3 and levels["community"] >= 9 and levels["grid"] >= 1000
    city = Area.objects.get(code="320300")
    assert city.geometry["type"] in ("Polygon", "MultiPolygon") and not city.synthetic
    gulou = Area.objects.get(code="320302")
    assert gulou.name == "鼓楼区" and gulou.parent == city and not gulou.synthetic
    assert 117.0 < gulou.centroid_lon < 117.4 and 34.2 < gulou.centroid_lat < 34.4
    assert 90e6 < gulou.area_m2 < 120e6  # 鼓楼区 is about 106 km²
    grids = Area.objects.filter(level="grid").values_list(
        "code", "parent__code", "parent__level", "synthetic", "area_class"
    )
    for code, parent_code, parent_level, synthetic, area_class in grids:
        assert len(code) == 15 and code.isdigit() and code.startswith(parent_code), code
        assert parent_level == "community" and synthetic and area_class in ("A", "B")
    assert {c for *_, c in grids} == {"A", "B"}

    # One login per role, with the printed password.
    for login in LOGINS:
        user = User.objects.get(username=login.username)
        assert user.check_password(DEMO_PASSWORD)
        assert Role(login.role) in user.roles
        assert user.display_name
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="handler").scope_unit.name == "徐州市市政工程处"
    for username in DISTRICT_LOGINS:
        assert User.objects.get(username=username).scope_area.level == "district"

    # Cases across the lifecycle: closed ones and queues at open stages.
    states = set(Case.objects.values_list("state", flat=True))
    assert {"closed", "rejected"} <= states
    assert len(states & {s.value for s in OPEN_STATES}) >= 5
    kinds = set(CaseEvent.objects.values_list("kind", flat=True))
    expected = {
        "report",
        "accept",
        "send_verify",
        "verify",
        "reject",
        "self_dispose",
        "void",
        "file",
        "dispatch",
        "request_return",
        "approve_return",
        "request_extension",
        "approve_extension",
        "request_suspension",
        "approve_suspension",
        "dispose",
        "send_check",
        "check_pass",
        "check_fail",
        "rework",
        "close",
        "urge",
        "merge",
        "note",
        "deadline_warning",
        "deadline_overdue",
    }
    assert expected <= kinds, expected - kinds
    assert CaseEvent.objects.filter(kind="dispose", outcome__on_time=False).exists()  # some units were late
    assert not Case.objects.filter(reported_at__gt=NOW).exists()
    assert not CaseEvent.objects.filter(at__gt=NOW).exists()

    # Each case's events happen in the order of their chain.
    last: dict[int, object] = {}
    for case_id, at in CaseEvent.objects.order_by("case_id", "seq").values_list("case_id", "at"):
        assert at >= last.get(case_id, at), case_id
        last[case_id] = at

    # Every intake channel appears, the Open311 client named on its cases.
    assert set(Case.objects.values_list("source", flat=True)) == {
        "inspector", "hotline", "citizen", "web", "camera", "open311", "leader",
    }  # fmt: skip
    # Public reporters rate results and now and then say a case is not fixed.
    assert CaseEvent.objects.filter(kind="rate", actor_role="citizen").exists()
    assert CaseEvent.objects.filter(kind="reopen", case__source="web").exists()
    assert CaseEvent.objects.filter(kind__in=["uphold", "send_check"], from_state="reopened").exists()
    # The desk called most callers back after closing; the rest wait in its call-back list.
    from citykeeper.services.cases import awaiting_callback

    called = CaseEvent.objects.filter(kind="note", data__has_key="callback").count()
    assert called > 0 and awaiting_callback(Case.objects.all()).count() < called
    # The demo keys work: the Open311 key and each camera's key authenticate, and camera cases
    # carry their device with one device event each.
    from django.utils import timezone as tz

    from citykeeper.demo.channels import DEMO_OPEN311_KEY, demo_cameras
    from citykeeper.services import devices, open311
    from citykeeper.store.models import DeviceEvent

    assert open311.authenticate(DEMO_OPEN311_KEY, now=tz.now()).name == "徐州城市管家App（Open311）"
    assert {devices.authenticate(c.key).code for c in demo_cameras()} == {c.code for c in demo_cameras()}
    camera_cases = Case.objects.filter(source="camera")
    assert camera_cases.exists() and set(camera_cases.values_list("source_detail", flat=True)) <= {
        c.code for c in demo_cameras()
    }
    assert DeviceEvent.objects.filter(case__in=camera_cases).count() == camera_cases.count()
    # Operators dismiss some of what the cameras saw, so the false-alarm rate is not zero.
    assert camera_cases.filter(state="rejected").exists() and camera_cases.exclude(state="rejected").exists()
    assert set(Case.objects.filter(source="open311").values_list("source_detail", flat=True)) == {
        "徐州城市管家App（Open311）"
    }

    # Base data: streets with doorplates, ~90,000 components in their grids, beats, routing.
    from citykeeper.store.models import Component, GazetteerEntry, ResponsibilityGrid, RoutingRule

    assert 80_000 <= Component.objects.count() <= 120_000
    assert set(Component.objects.values_list("category__minor_name", flat=True).distinct()) >= {"路灯", "污水井盖"}
    for component in Component.objects.select_related("grid").order_by("?")[:30]:
        assert component.grid.level == "grid" and len(component.code) == 17
        assert component.code.startswith(component.grid.code[:6] + component.category.minor_code)
        assert shape(component.grid.geometry).buffer(1e-7).contains(shapely.Point(component.lon, component.lat))
    assert GazetteerEntry.objects.filter(kind="doorplate").count() > 10_000
    assert GazetteerEntry.objects.filter(kind="road").count() >= 3 * 8
    assert ResponsibilityGrid.objects.count() == levels["community"]
    assert RoutingRule.objects.exists()
    files = CaseEvent.objects.filter(kind="file")
    assert files.exclude(data__proposed_unit=None).count() >= 0.9 * files.count()
    dispatches = CaseEvent.objects.filter(kind="dispatch", data__has_key="override")
    assert dispatches.filter(data__override=False).count() >= 0.8 * dispatches.count() > 0
    # Written from the gazetteer: "鼓楼区 中山北路与平山路交叉口南约50米", "… 碧水花园东约70米" …
    addresses = list(Case.objects.values_list("address", flat=True))
    assert all(a.split(" ")[0].endswith("区") for a in addresses)
    assert sum(1 for a in addresses if "(" not in a and ("米" in a or "附近" in a)) >= 0.9 * len(addresses)

    # Each case lies inside its unit grid.
    for case in Case.objects.select_related("area")[:50]:
        assert case.area.level == "grid"
        assert shape(case.area.geometry).buffer(1e-6).contains(shapely.Point(case.lon, case.lat))

    # Every chain verifies, here and through the command line.
    checked, broken = verify_chains()
    assert broken == [] and checked == Case.objects.count()
    assert cli.main(["verify"]) == 0
    assert f"checked {checked} cases, 0 altered" in capsys.readouterr().out

    # Loading again changes nothing.
    before = _snapshot()
    again = load_demo(now=NOW, days=5, cases_per_day=15)
    assert not again.loaded and "already loaded" in again.message
    assert _snapshot() == before


def _history_of(seed: int) -> list[tuple]:
    """Load a tiny demo inside a savepoint, read its history, and roll it back."""
    with transaction.atomic():
        summary = load_demo(now=NOW, days=2, cases_per_day=6, seed=seed, base_data=False)
        assert summary.loaded and summary.refused_steps == 0
        rows = list(
            CaseEvent.objects.order_by("case__number", "seq").values_list(
                "case__number", "seq", "kind", "at", "from_state", "to_state", "reason"
            )
        )
        transaction.set_rollback(True)
    return rows


def test_the_demo_is_deterministic_for_a_seed(db):
    first = _history_of(7)
    assert first and first == _history_of(7)
    assert first != _history_of(8)


def test_a_demo_loaded_on_a_weekend_night_has_work_waiting_at_every_stage(db):
    from citykeeper.demo.history import STALLS

    sunday_after_midnight = local(2026, 11, 22, 0, 30)
    summary = load_demo(now=sunday_after_midnight, days=4, cases_per_day=4, base_data=False)
    assert summary.loaded and summary.refused_steps == 0, summary.refused
    waiting = set(Case.objects.values_list("state", flat=True))
    assert {state for state, *_ in STALLS} <= waiting
