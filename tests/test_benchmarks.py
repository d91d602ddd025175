"""docs/benchmarks.md: each benchmark rewrites its own section and keeps the others."""

from __future__ import annotations

from citykeeper.benchmarks import HEADER, write_section


def test_a_section_is_appended_then_replaced_in_place_keeping_the_others(tmp_path):
    path = tmp_path / "benchmarks.md"
    write_section(path, "## Demo load", "## Demo load\n\nfirst run\n")
    write_section(path, "## Locating", "## Locating\n\nindex table\n")
    write_section(path, "## Demo load", "## Demo load\n\nsecond run\n")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HEADER)
    assert "first run" not in text and "second run" in text and "index table" in text
    assert text.index("## Demo load") < text.index("## Locating")
