"""Catalog table: which catalog version HQ put in force (the versions themselves are data files)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carloop.clock import utcnow
from carloop.db import Base


class ActiveCatalog(Base):
    """The catalog version HQ activated (one row); without it the newest version is current."""

    __tablename__ = "console_active_catalog"  # the name it had when the console owned it

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    version: Mapped[str] = mapped_column(String(20))
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_by: Mapped[str] = mapped_column(String(40))
