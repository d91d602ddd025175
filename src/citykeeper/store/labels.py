"""Choice labels in the active language, looked up in a dict.

Django's ``get_FOO_display()`` rebuilds a hashable copy of the field's choices on every
call, and hashing a lazy label translates it: with the 20 case states that is 1–2 ms a
call, so a page of 50 rows or a map of 3,000 points spent most of its time there. These
dicts are built once per language and field.
"""

from __future__ import annotations

from functools import lru_cache

from django.db import models
from django.utils import translation


def choice_labels(model: type[models.Model], field: str) -> dict[str, str]:
    return _labels(model, field, translation.get_language() or "")


@lru_cache(maxsize=128)
def _labels(model: type[models.Model], field: str, language: str) -> dict[str, str]:
    with translation.override(language or None):
        return {value: str(label) for value, label in model._meta.get_field(field).flatchoices}
