"""Builders for board tests: owners and staff; each test starts with an empty similar-search cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from carloop.accounts.schemas import Principal, Role
from carloop.community import index

STAFF = Principal(role=Role.HQ_OPS, staff_id=3, display_name="ops")


@pytest.fixture(autouse=True)
def _fresh_similar_index() -> Iterator[None]:
    index._STATES.clear()  # PostgreSQL tests reuse one database URL with ids restarted
    yield
    index._STATES.clear()
