"""A console page rendered with the console's navigation for the staff member's role (every domain's
console pages render through it)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from carloop.accounts.schemas import Principal
from carloop.console import rules


def render(
    request: Request, principal: Principal, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """``template`` with ``context`` and the navigation ``principal`` may use."""
    full = {"nav": rules.navigation(principal.role), **context}
    return request.app.state.renderer.render(request, template, full, status_code=status)
