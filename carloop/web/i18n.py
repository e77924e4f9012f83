"""Languages: zh-CN and en from Babel catalogs, chosen per request.

The ``.po`` catalogs under ``carloop/locale/<locale>/LC_MESSAGES/`` are the source of truth, one
file per domain (``catalog.po``, ``ordering.po``...). They are compiled in memory and merged at
start-up, so there is no build step and no generated file to forget.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from io import BytesIO

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.requests import Request

LOCALES = ("zh_CN", "en")
LANG_COOKIE = "carloop_lang"
_ALIASES = {
    "zh": "zh_CN",
    "zh-cn": "zh_CN",
    "zh_cn": "zh_CN",
    "zh-hans": "zh_CN",
    "en": "en",
    "en-us": "en",
    "en_us": "en",
}


@cache
def translations(locale: str) -> Translations:
    """The merged message catalogs for a locale (cached for the process)."""
    folder = files("carloop") / "locale" / locale / "LC_MESSAGES"
    merged = Translations(domain="messages")
    for po_file in sorted((f for f in folder.iterdir() if f.name.endswith(".po")), key=lambda f: f.name):
        with po_file.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        merged.merge(Translations(buffer, domain="messages"))
    return merged


def normalise(tag: str | None) -> str | None:
    """A supported locale for a language tag such as ``zh-CN`` or ``en``, or None."""
    if not tag:
        return None
    return _ALIASES.get(tag.strip().lower())


def negotiate(accept_language: str | None, default: str) -> str:
    """The best supported locale for an ``Accept-Language`` header."""
    if not accept_language:
        return default
    preferred = []
    for part in accept_language.split(","):
        lang, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        preferred.append((weight, lang.strip().replace("_", "-")))
    preferred.sort(key=lambda item: -item[0])
    found = Locale.negotiate([lang for _, lang in preferred], ["zh_CN", "en"], sep="_")
    if found is None:
        return default
    return "zh_CN" if str(found).startswith("zh") else "en"


def request_locale(request: Request, default: str) -> str:
    """``?lang=`` first, then the language cookie, then ``Accept-Language``."""
    return (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get(LANG_COOKIE))
        or negotiate(request.headers.get("accept-language"), default)
    )
