"""The .po catalogs parse, keep their placeholders, agree with each other, and cover every template."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import PYTHON_FORMAT, Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import PoFileError, PoFileParser, read_po
from babel.util import pathmatch

import carloop
from carloop.web.i18n import translations

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(carloop.__file__).resolve().parent
LOCALE_DIR = PACKAGE / "locale"
TEMPLATES_DIR = PACKAGE / "web" / "templates"
PO_FILES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
TEMPLATES = sorted(TEMPLATES_DIR.rglob("*.html"))
PO_STRING = r'"(?:[^"\\]|\\.)*"'
PO_KEYWORD = r"(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)"
PO_LINE = re.compile(rf"(?:#.*|{PO_KEYWORD}\s+{PO_STRING}|{PO_STRING})?\s*")
MARKED_FOR_TRANSLATION = re.compile(r"""\b_\(\s*["']|\{%-?\s*trans\b""")


def _po_id(po_file: Path) -> str:
    return po_file.relative_to(LOCALE_DIR).as_posix()


def _template_id(template: Path) -> str:
    return template.relative_to(TEMPLATES_DIR).as_posix()


def _read(po_file: Path) -> Catalog:
    with po_file.open("rb") as fh:
        return read_po(fh, locale=po_file.parent.parent.name, abort_invalid=True)


def _names(text: str) -> set[str]:
    """The names of the ``%(name)s`` placeholders in a string."""
    return {m.group(1) for m in PYTHON_FORMAT.finditer(text) if m.group(1)}


def _placeholders(text: str) -> set[str]:
    """The ``%`` conversions in a string, ``%(name)s`` or positional, without the ``%%`` escape."""
    return {m.group(0) for m in PYTHON_FORMAT.finditer(text) if m.group(0) != "%%"}


def _format_error(text: str, names: set[str]) -> str | None:
    """What goes wrong when ``text % {...}`` runs, as Jinja's newstyle gettext does on every string."""
    try:
        _ = text % {name: "x" for name in names}
    except (ValueError, TypeError, KeyError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def _translated_pairs(catalog: Catalog) -> list[tuple[str, str]]:
    """(msgid, msgstr) for every non-empty translation, plural forms included."""
    pairs: list[tuple[str, str]] = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        pairs += [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(strings) if s]
    return pairs


class _DuplicateTrackingCatalog(Catalog):
    """A catalog that remembers msgids defined twice: msgfmt refuses those, read_po keeps the last."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.defined_twice: list[str] = []

    def __setitem__(self, id: Any, message: Message) -> None:
        if id and self.get(id, context=message.context) is not None:
            self.defined_twice.append(str(id))
        super().__setitem__(id, message)


def _extract_messages(template: Path) -> list[str | tuple[str, ...]]:
    """The msgids of one template, extracted with the method and options babel.cfg gives it."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    relative = template.relative_to(ROOT).as_posix()
    for pattern, method in method_map:
        if pathmatch(pattern, relative):
            found = extract_from_file(method, template, options=options_map.get(pattern))
            return [msg[1] for msg in found if msg[1] and (isinstance(msg[1], str) or msg[1][0])]
    raise AssertionError(f"babel.cfg has no extraction method for {relative}")


def _translated(catalog: dict[Any, str], msgid: str | tuple[str, ...]) -> bool:
    """Whether the compiled catalog has a non-empty translation (plural msgids are keyed by form)."""
    if isinstance(msgid, str):
        return bool(catalog.get(msgid))
    return bool(catalog.get((msgid[0], 0)))


def test_catalogs_and_templates_were_found() -> None:
    assert {_po_id(p) for p in PO_FILES} >= {
        "zh_CN/LC_MESSAGES/web.po",
        "zh_CN/LC_MESSAGES/ordering.po",
        "en/LC_MESSAGES/web.po",
        "en/LC_MESSAGES/ordering.po",
    }
    assert {_template_id(t) for t in TEMPLATES} >= {"base.html", "error.html", "ordering/order.html"}


@pytest.mark.parametrize("po_file", PO_FILES, ids=_po_id)
def test_catalog_parses_without_errors(po_file: Path) -> None:
    lines = po_file.read_text(encoding="utf-8").splitlines()
    malformed = [f"line {n}: {line}" for n, line in enumerate(lines, 1) if not PO_LINE.fullmatch(line)]
    assert not malformed, f"{_po_id(po_file)} has lines that are not .po syntax:\n" + "\n".join(malformed)
    try:
        catalog = _read(po_file)
    except PoFileError as err:
        pytest.fail(f"{_po_id(po_file)} is not a valid .po file: {err}")
    assert catalog.mime_headers, f"{_po_id(po_file)} has no header entry"


@pytest.mark.parametrize("po_file", PO_FILES, ids=_po_id)
def test_catalog_defines_each_msgid_once(po_file: Path) -> None:
    catalog = _DuplicateTrackingCatalog(locale=po_file.parent.parent.name)
    with po_file.open("rb") as fh:
        PoFileParser(catalog, abort_invalid=True).parse(fh)
    assert not catalog.defined_twice, f"{_po_id(po_file)} defines these msgids twice: {catalog.defined_twice}"


@pytest.mark.parametrize("po_file", PO_FILES, ids=_po_id)
def test_translations_keep_the_placeholders_of_their_msgid(po_file: Path) -> None:
    problems = []
    for msgid, msgstr in _translated_pairs(_read(po_file)):
        expected, got = _placeholders(msgid), _placeholders(msgstr)
        if expected != got:
            problems.append(f"{msgid!r}: expects {sorted(expected)}, translation has {sorted(got)}")
        elif _format_error(msgid, names := _names(msgid)) is None and (error := _format_error(msgstr, names)):
            problems.append(f"{msgstr!r} breaks %-formatting ({error}); write a literal percent sign as %%")
    assert not problems, f"{_po_id(po_file)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("locale", sorted({p.parent.parent.name for p in PO_FILES}))
def test_domain_catalogs_do_not_translate_one_msgid_two_ways(locale: str) -> None:
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for po_file in PO_FILES:
        if po_file.parent.parent.name == locale:
            for msgid, msgstr in _translated_pairs(_read(po_file)):
                seen[msgid][msgstr].append(po_file.name)
    clashes = [f"{msgid!r}: {dict(found)}" for msgid, found in seen.items() if len(found) > 1]
    assert not clashes, (
        f"the merged {locale} catalog keeps only the last file's translation of these:\n" + "\n".join(clashes)
    )


@pytest.mark.parametrize("template", TEMPLATES, ids=_template_id)
def test_extraction_finds_the_strings_marked_in_template(template: Path) -> None:
    if MARKED_FOR_TRANSLATION.search(template.read_text(encoding="utf-8")):
        assert _extract_messages(template), f"no msgid extracted from {_template_id(template)}"


def test_every_template_string_has_a_chinese_translation() -> None:
    catalog = translations("zh_CN")._catalog
    missing: dict[str, list[str]] = {}
    for template in TEMPLATES:
        absent = [msgid for msgid in _extract_messages(template) if not _translated(catalog, msgid)]
        if absent:
            missing[_template_id(template)] = sorted({str(msgid) for msgid in absent})
    report = "\n".join(
        f"{name}:\n" + "\n".join(f"  {msgid!r}" for msgid in msgids) for name, msgids in missing.items()
    )
    assert not missing, f"msgids without a zh_CN translation:\n{report}"
