"""Case numbers: ``{yyyyMMdd}{seq:05d}`` per city, the date local to the city.

Example: the 12th case reported in a city on 2026-11-21 is ``2026112100012``.
The sequence restarts every local day; 99,999 cases a day is well above Kunming's
peak (~6,700). A number never changes once given and is never reused.
"""

from __future__ import annotations

import re
from datetime import date

CASE_NUMBER = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{5})$")


def case_number(day: date, seq: int) -> str:
    if not 1 <= seq <= 99_999:
        raise ValueError("daily case sequence out of range 1..99999")
    return f"{day:%Y%m%d}{seq:05d}"


def is_case_number(text: str) -> bool:
    return bool(CASE_NUMBER.match(text))
