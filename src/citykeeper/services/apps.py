from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """No models: loads the service modules whose signal receivers keep per-process
    caches honest (limits, base data), in every process, before any request or job."""

    name = "citykeeper.services"
    label = "services"

    def ready(self) -> None:
        from citykeeper.services import basedata, basemap, limits  # noqa: F401  (receivers; basemap's start-up check)
