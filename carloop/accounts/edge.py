"""Small helpers the accounts API and pages share: who is calling, how codes go out, refusals."""

from __future__ import annotations

from fastapi import Request, Response

from carloop.accounts.senders import CodeSender, LogSender
from carloop.errors import DomainError, RateLimited
from carloop.web import problems


def client_ip(request: Request) -> str | None:
    """The caller's address as the server sees it (a proxy must set it through uvicorn's proxy headers)."""
    return request.client.host[:64] if request.client else None  # fits the ip columns


def code_sender(request: Request) -> CodeSender:
    """The sender plugged into the app (``app.state.code_sender``), else the log sender."""
    sender: CodeSender | None = getattr(request.app.state, "code_sender", None)
    return sender or LogSender()


def refusal(request: Request, exc: DomainError) -> Response:
    """The problem response for a refused sign-in, returned rather than raised so the attempt is kept."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    extra = {key: value for key, value in exc.data.items() if key != "retry_after"}
    return problems.problem(
        request, problems.status_for(exc), str(exc.code), exc.message, headers=headers, **extra
    )
