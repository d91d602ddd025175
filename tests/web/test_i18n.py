"""Chinese first, English second: the admin, the home page and the message catalog."""

from __future__ import annotations

import ast
import datetime as dt
import gettext
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation

import citykeeper
from citykeeper.web import views as web_views
from tests.factories import make_personas, report_case

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
LOCALE = Path(citykeeper.__file__).parent / "locale" / "en" / "LC_MESSAGES"


@pytest.mark.django_db
def test_admin_index_is_chinese_by_default(admin_client):
    body = admin_client.get(reverse("admin:index")).content.decode()
    assert 'lang="zh-hans"' in body
    assert "城市管家 管理后台" in body
    assert "案件类别" in body and "节假日/调休" in body
    assert "站点管理" not in body  # Django's default index title is replaced


@pytest.mark.django_db
def test_admin_index_in_english(admin_client, city, monkeypatch):
    monkeypatch.setattr("citykeeper.web.admin._today", lambda: dt.date(2026, 11, 23))
    body = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in body
    assert "CityKeeper administration" in body
    assert "Case category" in body and "Holiday/swapped workday" in body and "Stage time limit" in body
    assert "The calendar has no holiday data for 2027" in body
    assert not CJK.search(body), CJK.findall(body)


@pytest.mark.django_db
def test_admin_changelists_in_english(admin_client, city):
    report_case(city, make_personas(city))
    body = admin_client.get(reverse("admin:store_category_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Minor class name" in body and "Component" in body
    body = admin_client.get(reverse("admin:store_case_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Awaiting acceptance" in body and "Case number" in body


def test_every_model_label_has_an_english_translation():
    untranslated = []
    with translation.override("en"):
        for config in (apps.get_app_config("store"), apps.get_app_config("web")):
            labels = [(config.label, config.verbose_name)]
            for model in config.get_models():
                name = model.__name__
                labels += [(name, model._meta.verbose_name), (name, model._meta.verbose_name_plural)]
                for field in model._meta.get_fields():
                    if not hasattr(field, "verbose_name"):
                        continue
                    where = f"{name}.{field.name}"
                    labels += [(where, field.verbose_name), (where, field.help_text)]
                    labels += [(where, label) for _value, label in getattr(field, "flatchoices", None) or []]
            untranslated += [(where, str(label)) for where, label in labels if CJK.search(str(label))]
    assert not untranslated, "run makemessages -l en and translate: " + repr(untranslated)


def _read_po(path: Path) -> dict[str, tuple[str, ...]]:
    """msgid (msgctxt\\x04msgid for contexts) → msgstr(s); fuzzy entries map to ()."""
    entries: dict[str, tuple[str, ...]] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [ln for ln in block.strip().splitlines() if ln and not ln.startswith("#~")]
        fuzzy = any(ln.startswith("#,") and "fuzzy" in ln for ln in lines)
        parts: dict[str, str] = {}
        key = None
        for line in lines:
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$', line)
            if match:
                key = match.group(1)
                parts[key] = ast.literal_eval(match.group(2))
            else:
                parts[key] += ast.literal_eval(line)
        if "msgid" not in parts or parts["msgid"] == "":
            continue
        msgid = parts["msgid"] if "msgctxt" not in parts else f"{parts['msgctxt']}\x04{parts['msgid']}"
        strs = tuple(v for k, v in sorted(parts.items()) if k.startswith("msgstr"))
        entries[msgid] = () if fuzzy else strs
    return entries


def test_catalog_is_complete_and_compiled():
    entries = _read_po(LOCALE / "django.po")
    assert len(entries) > 150
    missing = [msgid for msgid, strs in entries.items() if not strs or not all(strs)]
    assert not missing, f"untranslated or fuzzy: {missing}"
    still_chinese = [msgid for msgid, strs in entries.items() if any(CJK.search(s) for s in strs)]
    assert not still_chinese, still_chinese
    with (LOCALE / "django.mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = [
        msgid
        for msgid, strs in entries.items()
        if compiled._catalog.get(msgid, compiled._catalog.get((msgid, 0))) != strs[0]
    ]
    assert not stale, f"django.mo is older than django.po; run compilemessages -l en: {stale}"


@pytest.mark.django_db
def test_home_page_in_chinese_and_english(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'lang="zh-hans"' in body
    assert "城市管家" in body and "开源的数字化城市管理平台" in body
    assert 'href="/admin/"' in body and 'href="/api/v1/docs"' in body
    assert "<code>citykeeper demo</code>" in body and "<code>shiftlead</code> 值班长" in body
    body = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="en"' in body
    assert "open-source digital urban management platform" in body
    assert "API documentation" in body and "<code>shiftlead</code> Shift lead" in body
    assert '<button name="language" value="zh-hans" lang="zh-Hans"' in body
    # The language switch names 中文 in its own script; the rest of the page is English.
    body = re.sub(r'<form[^>]*class="inline lang-switch".*?</form>', "", body, flags=re.S)
    assert not CJK.search(body), CJK.findall(body)


@pytest.mark.django_db
def test_home_page_names_the_accounts_the_demo_creates(client):
    demo = pytest.importorskip("citykeeper.demo")
    body = client.get(reverse("home")).content.decode()
    assert f"<code>{demo.DEMO_PASSWORD}</code>" in body
    assert [(login.username, login.role) for login in demo.LOGINS] == list(web_views.DEMO_LOGINS)


def test_every_label_of_the_evaluation_domain_is_listed_and_translated():
    from django.utils import translation

    from citykeeper.domain.evaluation.counters import COUNTERS
    from citykeeper.domain.evaluation.indicators import INDICATORS
    from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES
    from citykeeper.web.evaluation_labels import MSGIDS, indicator_label, label

    labels = {c.label for c in COUNTERS} | {i.label for i in INDICATORS} | {s.label for s in DEFAULT_SCHEMES.values()}
    assert labels <= set(MSGIDS), sorted(labels - set(MSGIDS))  # regenerate MSGIDS from the tables
    with translation.override("en"):
        english = {text: label(text) for text in labels}
        assert indicator_label("on_time_closure_rate") == "on-time closure rate"
    untranslated = [text for text, shown in english.items() if CJK.search(shown)]
    assert not untranslated, untranslated
    with translation.override("zh-hans"):
        assert indicator_label("on_time_closure_rate") == "按期结案率"
