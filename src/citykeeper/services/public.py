"""What the public may see: the public map of cases and the photos staff have published.

Positions are rounded (``PUBLIC_DECIMALS``: 4 decimals, about 10 m, as in the Open311 reads),
descriptions and reporters are never shown (people write names and phone numbers into them),
and a photo appears only after a member of staff has published it: photos from the street
can show faces and number plates. Rejected, voided and merged reports are not shown.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction

from citykeeper.domain.errors import InvalidInput, NotPermitted
from citykeeper.domain.workflow import Role, State
from citykeeper.store.models import Attachment, Case, User

log = logging.getLogger(__name__)

PUBLIC_DECIMALS = 4
PUBLIC_DAYS = 90
PUBLIC_LIMIT = 2000
HIDDEN_STATES = (State.REJECTED, State.VOIDED, State.MERGED)
PUBLISHERS = frozenset({Role.OPERATOR, Role.SHIFT_LEAD, Role.ADMIN})


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PUBLIC_DECIMALS)


def _shown(box: tuple[float, float, float, float], *, now: dt.datetime, days: int):
    min_lon, min_lat, max_lon, max_lat = box
    return Case.objects.filter(
        reported_at__gte=now - dt.timedelta(days=days),
        lon__gte=min_lon,
        lon__lte=max_lon,
        lat__gte=min_lat,
        lat__lte=max_lat,
    ).exclude(state__in=HIDDEN_STATES)


def public_count(box: tuple[float, float, float, float], *, now: dt.datetime, days: int = PUBLIC_DAYS) -> int:
    return _shown(box, now=now, days=days).count()


def public_cells(
    box: tuple[float, float, float, float], *, now: dt.datetime, cell: float, days: int = PUBLIC_DAYS
) -> list[dict]:
    """The public cases in ``box`` counted per square cell of ``cell`` degrees, counted in the
    database (every case, not only the newest ``PUBLIC_LIMIT``): position (the cell's mean),
    count, and the count per state."""
    from django.db.models import Avg, Count, F
    from django.db.models.functions import Floor

    rows = (
        _shown(box, now=now, days=days)
        .annotate(cx=Floor(F("lon") / cell), cy=Floor(F("lat") / cell))
        .values("cx", "cy", "state")
        .annotate(n=Count("id"), x=Avg("lon"), y=Avg("lat"))
        .order_by("cx", "cy", "state")
    )
    cells: dict[tuple, dict] = {}
    for row in rows:
        entry = cells.setdefault((row["cx"], row["cy"]), {"count": 0, "x": 0.0, "y": 0.0, "states": {}})
        entry["count"] += row["n"]
        entry["x"] += row["x"] * row["n"]
        entry["y"] += row["y"] * row["n"]
        entry["states"][row["state"]] = row["n"]
    return [
        {
            "lon": rounded(e["x"] / e["count"]),
            "lat": rounded(e["y"] / e["count"]),
            "count": e["count"],
            "states": e["states"],
        }
        for e in cells.values()
    ]


def public_cases(box: tuple[float, float, float, float], *, now: dt.datetime, days: int = PUBLIC_DAYS):
    """Cases reported in the last ``days`` inside ``box`` (minlon, minlat, maxlon, maxlat), newest
    first, at most ``PUBLIC_LIMIT``; a queryset of the fields the public map may show."""
    return (
        _shown(box, now=now, days=days)
        .select_related("category", "area")
        .only(
            "number",
            "state",
            "lon",
            "lat",
            "reported_at",
            "closed_at",
            "category__minor_name",
            "category__major_name",
            "area__name",
        )
        .order_by("-reported_at")[:PUBLIC_LIMIT]
    )


def published_photos(case: Case):
    return Attachment.objects.filter(case=case, published_at__isnull=False).order_by("uploaded_at", "pk")


def publish_photo(attachment: Attachment, *, by: User, at: dt.datetime, publish: bool = True) -> Attachment:
    """Staff publish a photo for the public (or withdraw it): they have looked at it and it
    shows no face or number plate that should stay private."""
    if not by.roles & PUBLISHERS and not by.is_superuser:
        raise NotPermitted("Only operators, shift leads and admins may publish photos.", field="role")
    if not attachment.public_file:
        raise InvalidInput("This attachment has no public copy to publish.", field="attachment")
    with transaction.atomic():
        Attachment.objects.filter(pk=attachment.pk).update(
            published_at=at if publish else None, published_by=by if publish else None
        )
    attachment.refresh_from_db(fields=["published_at", "published_by"])
    log.info(
        "photo published" if publish else "photo withdrawn",
        extra={"attachment": attachment.pk, "case": attachment.case_id, "user": by.pk},
    )
    return attachment
