"""The evaluation vocabulary in the user's language.

The domain writes its counter, indicator and scheme labels in Chinese, as data (they are
printed as they are in the Chinese bulletin). The web shows them through gettext with those
labels as msgids; ``MSGIDS`` lists them so ``makemessages`` keeps them in the catalogue, and
``tests/web/test_i18n.py`` checks the list covers every label of the domain's tables.
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from citykeeper.domain.evaluation.counters import BY_NAME
from citykeeper.domain.evaluation.indicators import BY_CODE

MSGIDS = (
    _("上报数"),
    _("公众举报数"),
    _("有效上报数"),
    _("受理数"),
    _("应核实派发数"),
    _("核实按时派发数"),
    _("应核实数"),
    _("按时核实数"),
    _("应核查派发数"),
    _("核查按时派发数"),
    _("应核查数"),
    _("按时核查数"),
    _("自行处置数"),
    _("立案数"),
    _("按时立案数"),
    _("准确立案数"),
    _("漏报数"),
    _("作废数"),
    _("派遣数"),
    _("按时派遣数"),
    _("准确派遣数"),
    _("应处置数"),
    _("处置数"),
    _("按期处置数"),
    _("超期未处置数"),
    _("应结案数"),
    _("结案数"),
    _("按期结案数"),
    _("按时结案数"),
    _("超期未结案数"),
    _("返工数"),
    _("回退数"),
    _("延期数"),
    _("挂账数"),
    _("督办数"),
    _("反映未解决数"),
    _("办理总时长（秒）"),
    _("结案率"),
    _("按期结案率"),
    _("处置率"),
    _("按期处置率"),
    _("返工率"),
    _("回退率"),
    _("延期率"),
    _("挂账率"),
    _("监督举报率"),
    _("有效上报率"),
    _("漏报率"),
    _("按时核实率"),
    _("按时核查率"),
    _("核实按时派发率"),
    _("核查按时派发率"),
    _("按时立案率"),
    _("准确立案率"),
    _("按时结案率"),
    _("按时派遣率"),
    _("准确派遣率"),
    _("平均办理时长"),
    _("区域评价（一类区域）"),
    _("区域评价（二类区域）"),
    _("部门评价"),
    _("监督员评价"),
    _("受理员评价"),
    _("值班长评价"),
    _("派遣员评价"),
)


def indicator_label(code: str) -> str:
    return gettext(BY_CODE[code].label) if code in BY_CODE else code


def counter_label(name: str) -> str:
    return gettext(BY_NAME[name].label) if name in BY_NAME else name


def label(text: str) -> str:
    """A label of the domain (a scheme's, say) in the user's language."""
    return gettext(text) if text else text
