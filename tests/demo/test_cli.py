"""The command line, run in-process against the test database."""

from __future__ import annotations

import pytest

from citykeeper import cli
from tests.factories import report_case


def test_verify_on_a_clean_database_exits_0(db, capsys):
    assert cli.main(["verify"]) == 0
    assert "checked 0 cases, 0 altered" in capsys.readouterr().out


def test_verify_walks_every_chain(city, people, capsys):
    report_case(city, people)
    report_case(city, people)
    assert cli.main(["verify"]) == 0
    assert capsys.readouterr().out.strip().endswith("checked 2 cases, 0 altered")


def test_tick_prints_what_it_fired(db, capsys):
    assert cli.main(["tick"]) == 0
    assert "warnings 0, overdue 0" in capsys.readouterr().out


def test_the_demo_banner_names_every_login_and_the_urls():
    from citykeeper.demo import DEMO_PASSWORD, LOGINS

    text = cli._banner("0.0.0.0", 8765)
    assert "http://127.0.0.1:8765/admin/" in text and "http://127.0.0.1:8765/api/v1/docs" in text
    for login in LOGINS:
        assert login.username in text
    assert DEMO_PASSWORD in text
    # The machine channels' demo keys, so a real Open311 client or a camera can be tried at once.
    from citykeeper.demo.channels import DEMO_OPEN311_KEY, demo_cameras

    assert DEMO_OPEN311_KEY in text and "http://127.0.0.1:8765/open311/v2/discovery.json" in text
    assert all(camera.key in text and camera.code in text for camera in demo_cameras())
    assert "http://127.0.0.1:8765/report/" in text and "http://127.0.0.1:8765/m/" in text
    assert "http://127.0.0.1:8765/console/evaluation/" in text and "http://127.0.0.1:8765/evaluation/" in text


def test_an_unknown_command_is_refused():
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2


def test_the_demo_refuses_a_database_whose_usernames_it_would_take(db, capsys):
    import argparse

    from citykeeper.store.models import Area, User

    User.objects.create_user(username="admin", password="their-own")
    args = argparse.Namespace(days=1, seed=1, cases_per_day=1)
    assert cli._load(args) == 2
    assert "admin" in capsys.readouterr().err
    assert not Area.objects.exists()
