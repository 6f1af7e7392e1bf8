"""Every screen in English and Simplified Chinese, chosen per agent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.dates import format_date
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from web_helpers import Client, Hub

from hub.models import utcnow
from hub.web.pages import LOCALE_DIR

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s")


def lang_of(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match
    return match.group(1)


async def login_page(c: Client, accept_language: str = "") -> str:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = await c.get("/login", headers=headers)
    assert response.status == 200
    return await response.text()


async def test_the_login_page_follows_the_browsers_languages(hub: Hub, client) -> None:
    c: Client = await client()
    chinese = await login_page(c, "zh-CN,zh;q=0.9,en;q=0.8")
    assert lang_of(chinese) == "zh-CN" and "坐席登录" in chinese and "工号" in chinese
    english = await login_page(c, "en-GB,en;q=0.9")
    assert lang_of(english) == "en" and "Agent log in" in english and "坐席" not in english


@pytest.mark.parametrize(("header", "lang"), [
    ("zh", "zh-CN"), ("zh-Hans-CN", "zh-CN"), ("zh-TW;q=0.8, fr", "zh-CN"),
    ("fr-FR, en;q=0.5", "en"), ("de", "en"), ("", "en"), ("en;q=0.4, zh;q=0.9", "zh-CN"),
])
async def test_accept_language_negotiation(hub: Hub, client, header: str, lang: str) -> None:
    c: Client = await client()
    assert lang_of(await login_page(c, header)) == lang


async def test_a_chosen_language_is_remembered_before_login(hub: Hub, client) -> None:
    c: Client = await client()
    switched = await c.get("/login?lang=zh_CN", headers={"Accept-Language": "en"})
    assert "坐席登录" in await switched.text()
    again = await login_page(c, "en")
    assert lang_of(again) == "zh-CN", "the language cookie beats the browser's languages"


async def test_a_bad_login_is_explained_in_the_agents_language(hub: Hub, client) -> None:
    c: Client = await client()
    await c.get("/login?lang=zh_CN")
    response = await c.login_attempt("1001", "wrong password")
    assert response.status == 401
    assert "工号或密码错误。" in await response.text()


async def test_the_agents_own_choice_wins_over_cookie_and_browser(hub: Hub, client) -> None:
    c: Client = await client()
    await c.get("/login?lang=en")
    await c.login("1001")
    response = await c.post("/api/me/locale", {"locale": "zh_CN"})
    assert response.status == 200
    # A later English cookie and browser do not override what the agent chose.
    c.http.cookie_jar.update_cookies({"contacthub_locale": "en"})
    page = await (await c.get("/inbox", headers={"Accept-Language": "en"})).text()
    assert lang_of(page) == "zh-CN"
    assert "等待中" in page and "退出登录" in page and "键盘快捷键" in page
    assert format_date(utcnow(), "full", locale="zh_CN") in page
    assert (await (await c.get("/api/me")).json())["locale"] == "zh_CN"

    other: Client = await client()
    await other.login("1002")
    english = await (await other.get("/inbox", headers={"Accept-Language": "en-US"})).text()
    assert lang_of(english) == "en" and "Waiting" in english and "Log out" in english
    assert format_date(utcnow(), "full", locale="en") in english


async def test_only_supported_languages_can_be_chosen(hub: Hub, alice: Client) -> None:
    response = await alice.post("/api/me/locale", {"locale": "fr"})
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_field"


async def test_the_js_catalog_is_served_per_language(hub: Hub, client) -> None:
    c: Client = await client()
    chinese = await (await c.get("/i18n/zh_CN.json")).json()
    assert chinese["Waiting"] == "等待中"
    assert chinese["Not delivered. Fix the cause, then send it again."] == "未送达。请排除原因后重新发送。"
    assert (await c.get("/i18n/en.json")).status == 200
    assert (await c.get("/i18n/fr.json")).status == 404


def used_msgids() -> set[str]:
    """Every message the templates, scripts and pages mark for translation (per babel.cfg)."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={"_": None, "gettext": None})
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str)}


def catalog(locale: str, name: str = "messages.po") -> dict[str, str]:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / name if locale else LOCALE_DIR / name
    with path.open("rb") as fh:
        po = read_po(fh)
    return {str(m.id): (m.string if not m.fuzzy else "") for m in po if m.id}  # type: ignore[misc]


def test_every_message_in_the_ui_is_translated_into_chinese() -> None:
    used = used_msgids()
    assert {"Waiting", "Take", "Customer is typing…", "The agent number or password is wrong."} <= used
    zh = catalog("zh_CN")
    missing = sorted(m for m in used if not zh.get(m))
    assert not missing, f"run pybabel extract/update and translate: {missing}"
    for msgid in used:
        assert sorted(PLACEHOLDER.findall(zh[msgid])) == sorted(PLACEHOLDER.findall(msgid)), msgid


def test_the_template_and_english_catalog_list_every_message() -> None:
    used = used_msgids()
    with (LOCALE_DIR / "messages.pot").open("rb") as fh:
        template = {str(m.id) for m in read_po(fh) if m.id}
    assert used <= template
    assert used <= set(catalog("en"))


def test_templates_hold_no_untranslated_words() -> None:
    """Visible text in the templates goes through ``_()``; only markup, symbols and key caps
    stay bare."""
    bare_words = re.compile(r">\s*([A-Za-z][A-Za-z ,.'()-]{2,})\s*<")
    for template in (ROOT / "hub/web/templates").glob("*.html"):
        text = re.sub(r"<kbd>.*?</kbd>|{% block body_class %}.*?{% endblock %}", "", template.read_text())
        text = re.sub(r"{[{%].*?[%}]}", "", text, flags=re.S)
        assert not bare_words.findall(text), (template.name, bare_words.findall(text))
