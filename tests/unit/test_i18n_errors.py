"""Every message a buyer can see from the domain errors up has a zh-CN translation, found by Babel's
extraction (``babel.cfg`` runs ``carloop.web.extract`` over the Python sources) against the catalogs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.util import pathmatch

import carloop
from carloop.web import extract
from carloop.web.i18n import translate_message, translations

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(carloop.__file__).resolve().parent
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)

# Raise sites whose message is built at run time, so no extractor can know it; each says where the
# words come from. A new one fails test_every_error_message_can_be_extracted until it is listed here
# (better: raise with a literal or an f-string, which the extractor turns into a msgid).
BUILT_AT_RUN_TIME = {
    "accounts/service.py": "one of the module's code-state constants, each extracted (CODE_*)",
    "accounts/staff.py": "rules.password_problem's sentences",
    "campaigns/service.py": "rules.terms_problems' and rules.change_problem's sentences",
    "catalog/rules.py": "the configuration problems' own messages, joined",
    "ecosystem/scenes.py": "the YAML parser's error text",
    "ordering/rules.py": "the lock confirmation's field list",
    "ordering/terms.py": "rules.deposit_problem's sentences",
}


def _python_messages() -> list[tuple[str, int, str | tuple[str, ...]]]:
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = []
    for source in SOURCES:
        relative = source.relative_to(ROOT).as_posix()
        method = next((m for pattern, m in method_map if pathmatch(pattern, relative)), None)
        assert method is not None, f"babel.cfg has no extraction method for {relative}"
        pattern = next(p for p, m in method_map if m == method)
        for lineno, msgid, _comments, _context in extract_from_file(
            method, source, options=options_map.get(pattern)
        ):
            found.append((relative, lineno, msgid))
    return found


def test_babel_extraction_finds_the_domain_error_messages() -> None:
    msgids = {msgid for _, _, msgid in _python_messages()}
    assert "That slot is fully booked; choose another." in msgids
    assert "No order %(number)s." in msgids  # from f"No order {number}."
    assert "Order %(number)s is %(status)s; its deposit is not due." in msgids


def test_every_python_message_and_error_message_has_a_chinese_translation() -> None:
    catalog = translations("zh_CN")._catalog
    missing = [
        f"{where}:{line}: {msgid!r}"
        for where, line, msgid in _python_messages()
        if not (catalog.get(msgid) if isinstance(msgid, str) else catalog.get((msgid[0], 0)))
    ]
    assert not missing, "messages without a zh_CN translation (add them to a zh_CN .po):\n" + "\n".join(
        missing
    )


def test_every_error_message_can_be_extracted() -> None:
    unknown = []
    known: dict[str, str] = {}  # every module's string constants, for rules.FULL and the like
    for source in SOURCES:
        known.update(extract.constants_of(source.read_text(encoding="utf-8")))
    for source in SOURCES:
        relative = source.relative_to(PACKAGE).as_posix()
        for lineno, msgid in extract.error_messages(source.read_text(encoding="utf-8"), known):
            if msgid is None and relative not in BUILT_AT_RUN_TIME:
                unknown.append(f"{relative}:{lineno}")
    assert not unknown, "domain errors whose message the extractor cannot see:\n" + "\n".join(unknown)


@pytest.mark.parametrize(
    ("code", "msgid"),
    [
        ('NotFound(f"No order {number}.")', "No order %(number)s."),
        ('Conflict(f"Order {order.number} is {order.status}.")', "Order %(number)s is %(status)s."),
        ('PolicyViolation(f"{a} and {a}")', "%(a)s and %(a2)s"),
        ('PolicyViolation("50% off")', "50%% off"),
        ('PolicyViolation(f"Pay {due:,} fen")', "Pay %(due)s fen"),
    ],
)
def test_an_fstring_becomes_a_msgid_with_named_placeholders(code: str, msgid: str) -> None:
    call = ast.parse(code).body[0].value  # type: ignore[attr-defined]
    assert extract.template(call.args[0]) == [msgid]


def test_a_raised_message_is_shown_in_chinese_with_its_values() -> None:
    assert translate_message("zh_CN", "No order CL-2026-0001.") == "没有订单 CL-2026-0001。"
    assert (
        translate_message("zh_CN", "That slot is fully booked; choose another.")
        == "该时段已约满，请选择其他时段。"
    )
    assert (
        translate_message("zh_CN", "Only a reserved order can be locked; order CL-9 is pending_payment.")
        == "只有已预订的订单可以锁单；订单 CL-9 的状态为待支付定金。"
    )


def test_english_and_unknown_messages_are_left_as_they_are() -> None:
    assert translate_message("en", "No order CL-1.") == "No order CL-1."
    assert translate_message("zh_CN", "Something nobody wrote down.") == "Something nobody wrote down."
