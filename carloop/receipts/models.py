"""Document counters (one row per series and year) and the receipts of payments and refunds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId, enum_column


class DocumentCounter(Base):
    """The last number given in one series and year; moved by one UPDATE in the issuing transaction.

    The UPDATE locks the row until that transaction ends, so concurrent issuers queue on it, and a
    rolled-back transaction gives its numbers back with everything else it wrote: no gap, no duplicate.
    """

    __tablename__ = "document_counters"

    series: Mapped[str] = mapped_column(String(4), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class ReceiptKind(StrEnum):
    """What a receipt acknowledges."""

    PAYMENT = "payment"  # money a buyer paid (captured online or taken at a store)
    REFUND = "refund"  # money returned to a buyer


class Receipt(Base):
    """The numbered receipt of one journal entry that moved a buyer's money; one per entry."""

    __tablename__ = "receipts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ReceiptKind] = mapped_column(enum_column(ReceiptKind))
    # the journal entry's idempotency key: "payment:<trade no>" or "refund:<refund no>"
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("year", "seq"),)

    @property
    def reference(self) -> str:
        """The payment's trade number or the refund's number the receipt is for."""
        return self.source_key.partition(":")[2]
