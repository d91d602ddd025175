"""``{{ case.state|state_label }}`` and ``{{ case.source|source_label }}``: the choice labels
from a dict (``store.labels``) instead of ``get_state_display``, which costs 1–2 ms a call;
``{{ scheme.label|domain_label }}``: an evaluation label in the user's language."""

from django import template

from citykeeper.store.labels import choice_labels
from citykeeper.store.models import Case
from citykeeper.web.evaluation_labels import label

register = template.Library()


@register.filter
def state_label(value: str) -> str:
    return choice_labels(Case, "state").get(value, value)


@register.filter
def source_label(value: str) -> str:
    return choice_labels(Case, "source").get(value, value)


@register.filter
def domain_label(value: str) -> str:
    """A label of the evaluation domain (scheme, indicator, counter) in the user's language."""
    return label(value)
