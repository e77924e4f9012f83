"""Payment providers: the simulator (default) and real adapters behind one interface."""

from __future__ import annotations

from typing import Any

from carloop.settings import Settings


def build_provider(settings: Settings) -> Any:
    """The provider configured in settings."""
    return None
