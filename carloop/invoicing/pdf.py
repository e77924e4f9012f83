"""Receipt and sales-document PDFs (ReportLab) in zh-CN or en: money as ¥, times in Asia/Shanghai.

Chinese is set in the font ``invoicing.fonts`` finds (embedded, subset, from the configured or the
system's font file; STSong-Light named only, as a fallback). English labels are set in Helvetica; any
value with Chinese in it (a buyer's name, an option's name, the seller's name) in the Chinese font.
The seller named on every document is a setting (``CARLOOP_SELLER_NAME``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from babel.dates import format_datetime
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from carloop.clock import SHANGHAI, as_utc
from carloop.invoicing.fonts import CjkFont, cjk_font
from carloop.invoicing.models import SalesDocument
from carloop.invoicing.service import ReceiptView
from carloop.money import format_fen
from carloop.receipts.models import ReceiptKind
from carloop.settings import Settings

Gettext = Callable[[str], str]
LATIN = "Helvetica"


@dataclass(frozen=True, slots=True)
class Letterhead:
    """Who issues the documents and the Chinese font they are set in."""

    seller: str = "carloop"
    cjk: CjkFont | None = None  # None: the configured-or-system font (``fonts.cjk_font()``)

    @classmethod
    def from_settings(cls, settings: Settings) -> Letterhead:
        """The letterhead the settings describe (seller name, font file)."""
        return cls(seller=settings.seller_name, cjk=cjk_font(settings.pdf_cjk_font))


def _when(moment: datetime, locale: str) -> str:
    text = format_datetime(as_utc(moment), "medium", tzinfo=SHANGHAI, locale=locale)
    return text.replace("\u202f", " ")  # CLDR's narrow space before "PM" is not in Helvetica


class _Page:
    """One document being laid out: a title, label/value tables and notes."""

    def __init__(self, locale: str, letterhead: Letterhead) -> None:
        self.locale = locale
        self.seller = letterhead.seller
        self.cjk = (letterhead.cjk or cjk_font()).name
        self.flow: list[Any] = []

    def _font(self, text: str) -> str:
        return self.cjk if self.locale == "zh_CN" or any(ord(c) > 0xFF for c in text) else LATIN

    def title(self, text: str) -> None:
        style = ParagraphStyle("title", fontName=self._font(text), fontSize=18, leading=24)
        self.flow += [Paragraph(escape(text), style), Spacer(1, 6 * mm)]

    def note(self, text: str) -> None:
        style = ParagraphStyle("note", fontName=self._font(text), fontSize=9, leading=13)
        self.flow += [Spacer(1, 4 * mm), Paragraph(escape(text), style)]

    def table(self, rows: Sequence[tuple[str, str]], *, bold_last: bool = False) -> None:
        data = [[label, value] for label, value in rows]
        style: list[Any] = [
            ("FONTSIZE", (0, 0), (-1, -1), 10),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ("TEXTCOLOR", (0, 0), (0, -1), colors.dimgrey),
            ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ]
        for r, row in enumerate(data):
            for c, text in enumerate(row):
                style.append(("FONTNAME", (c, r), (c, r), self._font(text)))
        if bold_last:
            style.append(("LINEABOVE", (0, -1), (-1, -1), 1, colors.black))
        table = Table(data, colWidths=[70 * mm, 100 * mm], hAlign="LEFT")
        table.setStyle(TableStyle(style))
        self.flow += [table, Spacer(1, 5 * mm)]

    def render(self, title: str) -> bytes:
        buffer = BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            title=title,
            author=self.seller,
            leftMargin=20 * mm,
            rightMargin=20 * mm,
            topMargin=20 * mm,
            bottomMargin=20 * mm,
        )
        document.build(self.flow)
        return buffer.getvalue()


def _purpose(purpose: str, gettext: Gettext) -> str:
    return {
        "deposit": gettext("Deposit"),
        "balance": gettext("Balance of the price"),
        "shop": gettext("Shop order"),
    }.get(purpose, purpose)


def _provider(provider: str, gettext: Gettext) -> str:
    return {
        "alipay": gettext("Alipay"),
        "wechat": gettext("WeChat Pay"),
        "store": gettext("Paid at the store"),
        "simulator": gettext("Payment simulator (demo)"),
    }.get(provider, provider)


def receipt_pdf(
    view: ReceiptView, *, locale: str, gettext: Gettext, letterhead: Letterhead | None = None
) -> bytes:
    """The PDF of one receipt of a payment or a refund."""
    receipt = view.receipt
    refund = receipt.kind is ReceiptKind.REFUND
    page = _Page(locale, letterhead or Letterhead())
    title = gettext("Refund receipt") if refund else gettext("Receipt")
    page.title(f"{title} {receipt.number}")
    rows = [
        (gettext("Receipt number"), receipt.number),
        (gettext("Issued on"), _when(receipt.issued_at, locale)),
        (gettext("Seller"), page.seller),
        (gettext("Buyer"), view.payer_name),
        (gettext("Order"), view.order_number),
        (gettext("Paid for"), _purpose(view.purpose, gettext)),
        (gettext("Paid through"), _provider(view.provider, gettext)),
        (gettext("Payment number"), view.trade_no),
    ]
    if refund:
        rows.append((gettext("Refund number"), view.refund_no))
    label = gettext("Amount refunded") if refund else gettext("Amount received")
    rows.append((label, format_fen(receipt.amount_fen, locale)))
    page.table(rows, bold_last=True)
    page.note(gettext("This receipt acknowledges the money; it is not an official invoice (fapiao)."))
    return page.render(receipt.number)


def _vehicle(document: SalesDocument, locale: str) -> str:
    base = next((line for line in document.lines if line.get("kind") == "base"), {})
    label = base.get("label_zh" if locale == "zh_CN" else "label_en") or base.get("label_en")
    return str(label or f"{document.model} {document.trim}")


def sales_document_pdf(
    document: SalesDocument,
    *,
    order_number: str,
    einvoice: str,
    locale: str,
    gettext: Gettext,
    letterhead: Letterhead | None = None,
) -> bytes:
    """The PDF of a delivered car's sales document; ``einvoice`` is the (translated) e-invoice line."""
    page = _Page(locale, letterhead or Letterhead())
    title = gettext("Sales document")
    page.title(f"{title} {document.number}")
    page.table(
        [
            (gettext("Document number"), document.number),
            (gettext("Issued on"), _when(document.issued_at, locale)),
            (gettext("Seller"), page.seller),
            (gettext("Buyer"), document.buyer_name),
            (gettext("Order"), order_number),
            (gettext("Vehicle"), _vehicle(document, locale)),
            (gettext("VIN"), document.vin or "-"),
        ]
    )
    zh = locale == "zh_CN"
    page.table(
        [
            (
                str(line.get("label_zh") if zh else line.get("label_en")) or str(line.get("code", "")),
                format_fen(int(line.get("amount_fen", 0)), locale),
            )
            for line in document.lines
        ]
    )
    page.table(
        [
            (gettext("Vehicle"), format_fen(document.vehicle_fen, locale)),
            (gettext("Options"), format_fen(document.options_fen, locale)),
            (gettext("Total price (VAT included)"), format_fen(document.total_fen, locale)),
            (gettext("of which VAT at 13 percent"), format_fen(document.tax_fen, locale)),
            (gettext("Deposit paid"), format_fen(document.deposit_fen, locale)),
            (gettext("Balance"), format_fen(document.balance_fen, locale)),
        ],
        bold_last=True,
    )
    page.note(einvoice)
    return page.render(document.number)
