"""What happens on the co-creation board, as events handled after commit (via the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class SuggestionTextChanged:
    """A suggestion was posted (or its title or body changed): its sentence embedding is due."""

    name: ClassVar[str] = "community.suggestion_text_changed"
    suggestion_id: int
