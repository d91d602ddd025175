"""docs/benchmarks.md is written by several benchmark commands, each owning one "## " section."""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmarks\n\nEach section is written by the command it names; do not edit by hand.\n"


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section of ``path`` whose first line starts with ``heading`` (up to the
    next "## " heading), or append it; the rest of the file is kept as it is."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    lines = text.splitlines(keepends=True)
    body = section.strip("\n") + "\n"
    start = next((i for i, line in enumerate(lines) if line.startswith(heading)), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = "".join(lines[end:])
        text = "".join(lines[:start]) + body + ("\n" + rest if rest else "")
    path.write_text(text, encoding="utf-8")
