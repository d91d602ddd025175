from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from citykeeper.api.v1 import api as api_v1
from citykeeper.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(template_name="citykeeper/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the header's 中文/English switch
    path("desk/", views.desk, name="desk"),
    path("console/", include("citykeeper.web.console")),
    path("m/", include("citykeeper.web.inspector")),
    path("evaluation/", include("citykeeper.web.published")),
    path("", include("citykeeper.web.portal")),
    path("admin/", admin.site.urls),
    path("api/v1/", api_v1.urls),
    path("open311/v2/", include("citykeeper.api.open311.urls")),
]
