"""``python -m citykeeper ...`` is the ``citykeeper`` command."""

from citykeeper.cli import main

raise SystemExit(main())
