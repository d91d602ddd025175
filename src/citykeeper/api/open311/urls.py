from django.urls import re_path

from citykeeper.api.open311 import views

FMT = r"(?:\.(?P<fmt>xml|json))?$"

urlpatterns = [
    re_path(rf"^discovery{FMT}", views.discovery, name="open311-discovery"),
    re_path(rf"^services{FMT}", views.services, name="open311-services"),
    re_path(rf"^services/(?P<code>[^/.]+){FMT}", views.service_definition, name="open311-service"),
    re_path(rf"^requests{FMT}", views.requests, name="open311-requests"),
    re_path(rf"^requests/(?P<number>[^/.]+){FMT}", views.request_detail, name="open311-request"),
    re_path(rf"^tokens/(?P<token>[^/.]+){FMT}", views.token, name="open311-token"),
    re_path(rf"^servicerequestupdates{FMT}", views.service_request_updates, name="open311-updates"),
]
