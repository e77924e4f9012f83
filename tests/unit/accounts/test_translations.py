"""Every visible string of the accounts pages and messages has a zh-CN translation."""

from __future__ import annotations

from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.extract import extract_from_file

import carloop
from carloop.accounts import service
from carloop.web.i18n import translations

PACKAGE = Path(carloop.__file__).parent
TEMPLATES = sorted((PACKAGE / "web" / "templates" / "accounts").glob("*.html"))
SERVICE_MESSAGES = [
    service.WRONG_PASSWORD,
    service.NO_CODE,
    service.CODE_REPLACED,
    service.CODE_EXPIRED,
    service.CODE_EXHAUSTED,
    service.WRONG_CODE,
    "Too many attempts. Wait a while and try again.",
]


def _msgids() -> list[str]:
    found = []
    for template in TEMPLATES:
        found += [msg[1] for msg in extract_from_file(jinja2.ext.babel_extract, template)]
    found += [msg[1] for msg in extract_from_file("python", PACKAGE / "accounts" / "pages.py")]
    return [m if isinstance(m, str) else m[0] for m in found] + SERVICE_MESSAGES


def test_the_accounts_templates_were_found() -> None:
    assert {t.name for t in TEMPLATES} >= {"login.html", "staff_login.html"}


@pytest.mark.parametrize("msgid", sorted(set(_msgids())))
def test_message_has_a_chinese_translation(msgid: str) -> None:
    translated = translations("zh_CN").gettext(msgid)
    assert translated != msgid, f"no zh_CN translation for {msgid!r}"
    assert translated.count("%(") == msgid.count("%(")
