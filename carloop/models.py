"""Imports every domain's models so ``Base.metadata`` knows all tables (Alembic and tests use it)."""

from carloop.db import Base

__all__ = ["Base"]
