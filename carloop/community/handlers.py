"""The board's reactions to its own events (run after commit by the outbox dispatcher)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from carloop.community import semantic
from carloop.community.events import SuggestionTextChanged
from carloop.outbox.service import Handler


def on_suggestion_text_changed(session: Session, payload: Mapping[str, Any]) -> None:
    """Embed the suggestion's text and store the vector with it (idempotent: same text, same vector)."""
    semantic.embed_suggestions(session=session, suggestion_ids=[int(payload["suggestion_id"])])


EVENT_HANDLERS: dict[str, list[Handler]] = {
    SuggestionTextChanged.name: [on_suggestion_text_changed],
}
