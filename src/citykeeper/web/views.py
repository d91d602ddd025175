from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from citykeeper.store.models import RoleGrant

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
