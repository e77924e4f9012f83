"""Tables of the store network (a minimal ``store`` for now; the network issue extends it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base, BigId
from carloop.network.schemas import StoreKind


class Store(Base):
    """A delivery centre, store, car corner or service outlet."""

    __tablename__ = "store"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[StoreKind] = mapped_column(
        Enum(StoreKind, native_enum=False, length=20, values_callable=lambda kinds: [k.value for k in kinds])
    )
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(60))
    province: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Store(id={self.id!r}, code={self.code!r}, kind={self.kind!r})"
