"""Receipt PDFs in zh-CN carry their Chinese font (embedded from the system's WenQuanYi Micro Hei or a
configured file), name the configured seller, and fall back to STSong-Light, with a warning, when no
font file is usable."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from carloop.invoicing import fonts
from carloop.invoicing.pdf import Letterhead, receipt_pdf
from carloop.invoicing.service import ReceiptView
from carloop.receipts.models import Receipt, ReceiptKind
from carloop.settings import Settings
from carloop.web.i18n import translations

WQY = fonts.SYSTEM_FONTS[0]
SELLER = "小米汽车销售有限公司"


@pytest.fixture(autouse=True)
def _fresh_font_choice() -> Iterator[None]:
    fonts.cjk_font.cache_clear()
    yield
    fonts.cjk_font.cache_clear()


@pytest.fixture
def system_font() -> str:
    if not Path(WQY).is_file():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI installs fonts-wqy-microhei ({WQY}); it is missing")
        pytest.skip("fonts-wqy-microhei is not installed")
    return WQY


def _receipt(letterhead: Letterhead) -> bytes:
    receipt = Receipt(
        number="R2026-000042",
        kind=ReceiptKind.PAYMENT,
        amount_fen=500_000,
        issued_at=datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
    )
    view = ReceiptView(
        receipt=receipt,
        order_number="CL-2026-000042",
        payer_name="张三",
        purpose="deposit",
        provider="wechat",
        trade_no="P-42",
        refund_no="",
    )
    gettext = translations("zh_CN").gettext
    return receipt_pdf(view, locale="zh_CN", gettext=gettext, letterhead=letterhead)


def _fonts_of(pdf: bytes) -> list[dict[str, Any]]:
    """Each font of the first page: its base name and whether a font program is embedded."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    found = []
    for ref in page["/Resources"]["/Font"].values():
        font = ref.get_object()
        descendants = font.get("/DescendantFonts")
        descriptor = (descendants[0].get_object() if descendants else font).get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else {}
        embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
        found.append({"name": str(font["/BaseFont"]), "embedded": embedded})
    return found


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_chinese_receipt_embeds_the_system_font_and_names_the_configured_seller(system_font: str) -> None:
    settings = Settings(environment="test", seller_name=SELLER)
    letterhead = Letterhead.from_settings(settings)
    assert letterhead.cjk is not None and letterhead.cjk.path == system_font
    pdf = _receipt(letterhead)
    text = _text(pdf)
    assert "收据 R2026-000042" in text and "定金" in text and "张三" in text and SELLER in text
    chinese = [f for f in _fonts_of(pdf) if f["name"] != "/Helvetica"]
    assert chinese and all(f["embedded"] for f in chinese)  # the reader needs no font of its own


def test_a_configured_font_file_is_used(system_font: str, tmp_path: Path) -> None:
    copy = tmp_path / "brand.ttc"
    copy.write_bytes(Path(system_font).read_bytes())
    chosen = fonts.cjk_font(str(copy))
    assert chosen.path == str(copy) and chosen.embedded
    assert "张三" in _text(_receipt(Letterhead(seller="carloop", cjk=chosen)))


def test_without_a_usable_font_file_the_pdf_falls_back_to_stsong_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", ())
    broken = tmp_path / "not-a-font.ttf"
    broken.write_bytes(b"this is no TrueType file")
    with caplog.at_level(logging.WARNING, logger="carloop.invoicing"):
        chosen = fonts.cjk_font(str(broken))
    assert chosen == fonts.CjkFont(name=fonts.FALLBACK) and not chosen.embedded
    assert "cannot be embedded" in caplog.text and "no CJK font file found" in caplog.text
    pdf = _receipt(Letterhead(seller=SELLER, cjk=chosen))
    assert {"name": "/STSong-Light", "embedded": False} in _fonts_of(pdf)
    assert SELLER in _text(pdf)
