"""The import command: a clean file is imported; a bad one is refused with every problem listed."""

from __future__ import annotations

from citykeeper import cli
from citykeeper.store.models import Area
from tests.services.test_imports import EAST, WEST, geojson


def test_import_grids_writes_the_layer_and_says_how_many(quanshan, tmp_path, capsys):
    path = geojson(tmp_path, ({"name": "西街道"}, WEST), ({"name": "东街道"}, EAST))
    assert cli.main(["import", "grids", str(path), "--level", "street", "--crs", "wgs84"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 street area(s)" in out and "320311001" in out
    assert Area.objects.filter(parent=quanshan).count() == 2


def test_a_refused_import_exits_2_and_lists_each_problem(quanshan, tmp_path, capsys):
    path = geojson(tmp_path, ({"name": "西街道"}, WEST))
    assert cli.main(["import", "grids", str(path), "--level", "street"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refused:") and "no coordinate system is declared" in err
    assert cli.main(["import", "grids", str(path), "--level", "street", "--crs", "wgs84"]) == 2
    err = capsys.readouterr().err
    assert "  - 320311: gap" in err
    assert not Area.objects.filter(parent=quanshan).exists()
