from django.contrib import admin
from django.urls import include, path

from citykeeper.api.v1 import api as api_v1
from citykeeper.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_v1.urls),
    path("open311/v2/", include("citykeeper.api.open311.urls")),
]
