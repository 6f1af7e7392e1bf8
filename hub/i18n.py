"""Message catalogs (gettext .po files read with Babel) and locale negotiation.

Catalogs are read from the .po sources at start-up, so no compiled .mo files live in the
repository. Plugins may use this module for their own catalogs.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SUPPORTED = ("en", "zh_CN")


@functools.cache
def translations(locale_dir: Path, domain: str, locale: str) -> gettext.NullTranslations:
    """The translations of ``domain`` for ``locale`` from ``<dir>/<locale>/LC_MESSAGES/<domain>.po``;
    English source strings when the catalog is absent."""
    po = locale_dir / locale / "LC_MESSAGES" / f"{domain}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def catalog_dict(locale_dir: Path, domain: str, locale: str) -> dict[str, str]:
    """msgid -> translation for every translated message; for catalogs served to browsers."""
    po = locale_dir / locale / "LC_MESSAGES" / f"{domain}.po"
    if not po.exists():
        return {}
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=domain)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and isinstance(m.id, str)}


def negotiate(accept_language: str, default: str = "en", supported: tuple[str, ...] = SUPPORTED) -> str:
    """The best supported locale for an Accept-Language header (zh, zh-CN, zh-Hans -> zh_CN)."""
    wanted = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if tag:
            wanted.append((weight, tag.replace("-", "_")))
    by_language = {code.split("_")[0].lower(): code for code in supported}
    for _weight, tag in sorted(wanted, key=lambda w: -w[0]):
        if tag in supported:
            return tag
        # zh, zh_Hans_CN, zh_TW: the one Chinese catalog we have beats falling back to English.
        language = tag.split("_")[0].lower()
        if language in by_language:
            return by_language[language]
    return default if default in supported else supported[0]


def parse_locale(value: str) -> Locale:
    try:
        return Locale.parse(value.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")
