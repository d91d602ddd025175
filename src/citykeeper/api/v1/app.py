"""The CityKeeper JSON API, version 1 (mounted at /api/v1/).

- ``/openapi.json`` and ``/docs`` (Swagger UI served from this server's own static
  files, never a CDN) need no authentication; every other endpoint except
  ``POST /auth/token`` needs a Bearer token or a Django session.
- Errors have one shape everywhere: see ``errors.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import re_path
from django.utils import timezone
from ninja import NinjaAPI, Swagger
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder

from citykeeper.api.v1 import auth, cases, devices, errors, maps, reference, spatial

DESCRIPTION = """
JSON API of CityKeeper (城市管家), the digital urban management platform.

**Authentication.** Send `Authorization: Bearer <token>` (get a token from `POST /api/v1/auth/token`
with a username and password), or use the console's Django session; session requests that change
data need the `X-CSRFToken` header.

**Errors.** Every error answers `{"code", "detail", "field"}`; validation errors (422) add `errors`
(one `{field, message, type}` per problem) and a stale `version` (409 `stale_version`) adds
`current_version`. A case outside your scope answers 404, like a case that does not exist.

**Time.** Date-times are ISO 8601 in the city's local time; a date-time you send without an offset
means local time too.
"""


class LocalTimeEncoder(NinjaJSONEncoder):
    """Date-times in the city's local time (``+08:00``), whatever zone they were read in."""

    def default(self, o: Any) -> Any:
        if isinstance(o, dt.datetime) and timezone.is_aware(o):
            o = timezone.localtime(o)
        return super().default(o)


class Renderer(JSONRenderer):
    encoder_class = LocalTimeEncoder
    json_dumps_params = {"ensure_ascii": False}


class CityKeeperAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation) -> str:
        # Function names are unique across the routers; "list_cases" reads better in
        # generated clients than "citykeeper_api_v1_cases_list_cases".
        return operation.view_func.__name__

    def _get_urls(self):
        urls = super()._get_urls()
        # Unknown paths under /api/v1/ answer JSON in the one error shape too.
        urls.append(re_path(r"^.*$", errors.not_found_view, name="not-found"))
        return urls


api = CityKeeperAPI(
    title="CityKeeper API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=auth.AUTH,
    parser=errors.JSONParser(),
    renderer=Renderer(),
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
)
errors.install(api)

api.add_router("/auth", auth.router)
api.add_router("/cases", cases.router)
api.add_router("/codebook", reference.codebook)
api.add_router("/areas", reference.areas)
api.add_router("/units", reference.units)
api.add_router("/calendar", reference.calendar)
api.add_router("", spatial.router)
api.add_router("", maps.router)
api.add_router("", devices.router)
