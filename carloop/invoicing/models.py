"""Sales documents of delivered orders and the e-invoices (fapiao) issued or reversed for them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column


class SalesDocument(Base):
    """The numbered sales document of a delivered car: buyer, VIN and the price broken down (fen)."""

    __tablename__ = "sales_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    buyer_name: Mapped[str] = mapped_column(String(60))
    vin: Mapped[str] = mapped_column(String(17), default="")
    model: Mapped[str] = mapped_column(String(40))
    trim: Mapped[str] = mapped_column(String(40))
    vehicle_fen: Mapped[int] = mapped_column(BigInteger)  # base price less incentives
    options_fen: Mapped[int] = mapped_column(BigInteger)
    total_fen: Mapped[int] = mapped_column(BigInteger)  # VAT included
    deposit_fen: Mapped[int] = mapped_column(BigInteger)
    balance_fen: Mapped[int] = mapped_column(BigInteger)
    tax_fen: Mapped[int] = mapped_column(BigInteger)  # the VAT part of total_fen
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the quote's itemised lines
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("year", "seq"),)


class EInvoiceKind(StrEnum):
    """An official e-invoice or its reversal."""

    BLUE = "blue"  # the invoice of a sale
    RED = "red"  # a red-letter reversal of a blue invoice, for a refund


class EInvoice(Base):
    """What the tax-control provider answered for one request (unique: a retried request is one invoice)."""

    __tablename__ = "e_invoices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_no: Mapped[str] = mapped_column(String(60), unique=True)  # our idempotency key at the provider
    document_number: Mapped[str] = mapped_column(String(20), index=True)  # the sales document
    kind: Mapped[EInvoiceKind] = mapped_column(enum_column(EInvoiceKind))
    provider: Mapped[str] = mapped_column(String(20))
    invoice_no: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(500), default="")
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # negative for a red-letter reversal
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
