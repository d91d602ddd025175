from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from citykeeper.domain.workflow import Role
from citykeeper.store.models import Category, RoleGrant
from citykeeper.store.models.codebook import Standard

# The one login per role that `citykeeper demo` creates and prints
# (citykeeper.demo.city.LOGINS and DEMO_PASSWORD; web may not import demo, so
# tests/web/test_i18n.py checks that the two lists agree).
DEMO_PASSWORD = "citykeeper-demo"
DEMO_LOGINS = (
    ("inspector", "inspector"),
    ("operator", "operator"),
    ("shiftlead", "shift_lead"),
    ("dispatcher", "dispatcher"),
    ("handler", "unit_handler"),
    ("leader", "leader"),
    ("evaluator", "evaluator"),
    ("admin", "admin"),
    ("citizen", "citizen"),
)


def home(request: HttpRequest) -> HttpResponse:
    labels = dict(RoleGrant._meta.get_field("role").choices)
    logins = [(username, labels.get(role, role)) for username, role in DEMO_LOGINS]
    return render(request, "citykeeper/home.html", {"demo_logins": logins, "demo_password": DEMO_PASSWORD})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


DESK_ROLES = frozenset({Role.OPERATOR, Role.SHIFT_LEAD})


@login_required
def desk(request: HttpRequest) -> HttpResponse:
    """热线坐席: the operators' fast form for 12319/12345 calls (see static/citykeeper/desk.js)."""
    if not request.user.roles & DESK_ROLES:
        raise PermissionDenied(_("热线坐席只对受理员和值班长开放。"))
    categories = Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL]).order_by(
        "kind", "major_code", "minor_code"
    )
    groups: dict[str, list[Category]] = {}
    for category in categories:
        groups.setdefault(f"{category.get_kind_display()} · {category.major_name}", []).append(category)
    return render(request, "citykeeper/desk.html", {"categories": list(groups.items())})
