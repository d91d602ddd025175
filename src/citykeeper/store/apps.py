from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StoreConfig(AppConfig):
    name = "citykeeper.store"
    label = "store"
    verbose_name = _("城市管家数据")
