"""Languages: zh-CN and en from Babel catalogs, chosen per request.

The ``.po`` catalogs under ``carloop/locale/<locale>/LC_MESSAGES/`` are the source of truth, one
file per domain (``catalog.po``, ``ordering.po``...). They are compiled in memory and merged at
start-up, so there is no build step and no generated file to forget.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from io import BytesIO
from typing import Any

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
    for weight, lang in preferred:  # any Chinese variant reads the zh-CN pages; any English, the en ones
        primary = lang.split("-", 1)[0].lower()
        if weight > 0 and primary in ("zh", "en"):
            return "zh_CN" if primary == "zh" else "en"
    return default


def stated_locale(request: Request) -> str | None:
    """The locale the request asked for (``?lang=``, cookie, ``Accept-Language``), or None if it did not."""
    header = request.headers.get("accept-language")
    return (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get(LANG_COOKIE))
        or (negotiate(header, "en") if header else None)
    )


def request_locale(request: Request, default: str) -> str:
    """``?lang=`` first, then the language cookie, then ``Accept-Language``."""
    return (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get(LANG_COOKIE))
        or negotiate(request.headers.get("accept-language"), default)
    )


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@cache
def _message_patterns(locale: str) -> list[tuple[re.Pattern[str], str]]:
    """(pattern, msgid) for every catalog msgid with ``%(name)s`` placeholders, most specific first."""
    found = []
    for msgid, msgstr in translations(locale)._catalog.items():
        if not isinstance(msgid, str) or not msgstr or "%(" not in msgid:
            continue
        parts, last, names = [], 0, set()
        for match in _PLACEHOLDER.finditer(msgid):
            parts.append(re.escape(msgid[last : match.start()].replace("%%", "%")))
            name = match.group(1)
            parts.append(f"(?P={name})" if name in names else f"(?P<{name}>.+?)")
            names.add(name)
            last = match.end()
        parts.append(re.escape(msgid[last:].replace("%%", "%")))
        literal = len(_PLACEHOLDER.sub("", msgid))
        found.append((literal, re.compile("".join(parts), re.DOTALL), msgid))
    found.sort(key=lambda item: -item[0])
    return [(pattern, msgid) for _, pattern, msgid in found]


def _value(catalog: Mapping[Any, str], value: str) -> str:
    """A placeholder's value in the locale when it is a word the catalogs know (a status, a kind)."""
    for key in (value, value.replace("_", " ").capitalize()):
        if catalog.get(key):
            return catalog[key]
    return value


def translate_message(locale: str, text: str) -> str:
    """An English message (a domain error's, as raised) in ``locale``, or unchanged if none is known.

    Domain errors are raised with English text, often built from an f-string; their msgids are the
    f-strings with ``%(name)s`` placeholders (``carloop.web.extract``). A message is looked up
    as it is, then matched against every msgid with placeholders, and the translation is filled
    with the values the match captured.
    """
    if locale == "en" or not text:
        return text
    catalog = translations(locale)._catalog
    direct = catalog.get(text.replace("%", "%%")) or catalog.get(text)
    if direct:
        return direct.replace("%%", "%")
    for pattern, msgid in _message_patterns(locale):
        match = pattern.fullmatch(text)
        if match:
            values = {name: _value(catalog, value) for name, value in match.groupdict().items()}
            return catalog[msgid] % values
    return text
