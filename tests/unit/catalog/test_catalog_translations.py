"""Every visible string of the catalog pages has a zh-CN translation and an entry in the en catalog."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

import carloop
from carloop.web.i18n import translations

PACKAGE = Path(carloop.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TEMPLATES = sorted((PACKAGE / "web" / "templates" / "catalog").glob("*.html"))


def _msgids() -> list[str]:
    found = []
    for template in TEMPLATES:
        found += [msg[1] for msg in extract_from_file(jinja2.ext.babel_extract, template)]
    return [m if isinstance(m, str) else m[0] for m in found]


def test_the_catalog_templates_were_found() -> None:
    assert {t.name for t in TEMPLATES} >= {"home.html", "model.html", "configure.html", "_macros.html"}


@pytest.mark.parametrize("msgid", sorted(set(_msgids())))
def test_message_has_a_chinese_translation(msgid: str) -> None:
    translated = translations("zh_CN").gettext(msgid)
    assert translated != msgid, f"no zh_CN translation for {msgid!r}"
    assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(msgid))


def test_the_english_catalog_lists_the_same_messages() -> None:
    with (PACKAGE / "locale" / "en" / "LC_MESSAGES" / "catalog.po").open("rb") as fh:
        english = {m.id for m in read_po(fh, locale="en") if m.id}
    assert set(_msgids()) <= english
