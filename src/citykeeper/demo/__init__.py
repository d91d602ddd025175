"""The demo city of 徐州 (Xuzhou): real districts, generated grids, people and ~90 days of cases.

``load_demo(now=...)`` loads it once; ``citykeeper demo`` and ``make demo`` call it.
"""

from citykeeper.demo.city import DEMO_PASSWORD, DISTRICT_LOGINS, LOGINS, Login
from citykeeper.demo.loader import DemoConflict, DemoSummary, is_loaded, load_demo

__all__ = [
    "DEMO_PASSWORD",
    "DISTRICT_LOGINS",
    "LOGINS",
    "DemoConflict",
    "DemoSummary",
    "Login",
    "is_loaded",
    "load_demo",
]
