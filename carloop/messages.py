"""Babel message catalogs: every domain's ``.po`` files merged per locale, and English text translated.

The ``.po`` catalogs under ``carloop/locale/<locale>/LC_MESSAGES/`` are the source of truth, one file
per domain. They are compiled in memory and merged on first use. Pages translate through
``carloop.web.i18n`` (which re-exports these); a domain that writes text a reader gets later in their
own language (a notice, an SMS) translates it here, when it writes it.
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

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


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


def translate_message(locale: str, text: str, *, depth: int = 2) -> str:
    """An English message (a domain error's, as raised) in ``locale``, or unchanged if none is known.

    Domain errors are raised with English text, often built from an f-string; their msgids are the
    f-strings with ``%(name)s`` placeholders (``carloop.web.extract``). A message is looked up
    as it is, then matched against every msgid with placeholders, and the translation is filled
    with the values the match captured: a value that is itself a message is translated too (``depth``
    levels down: "plan v3: Supplier X is short of ..." reads in Chinese through both patterns).
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
            values = {
                name: _value(locale, catalog, value, depth) for name, value in match.groupdict().items()
            }
            return catalog[msgid] % values
    return text


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


def _value(locale: str, catalog: Mapping[Any, str], value: str, depth: int) -> str:
    """A placeholder's value in the locale when it is a word the catalogs know (a status, a kind), or
    a message with placeholders of its own."""
    for key in (value, value.replace("_", " ").capitalize()):
        if catalog.get(key):
            return catalog[key]
    return translate_message(locale, value, depth=depth - 1) if depth > 1 else value
