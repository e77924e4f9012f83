"""The ASGI entry point for servers: ``granian --interface asgi --factory carloop.web.asgi:create``
(what ``carloop serve`` runs).

The lanes (``web.lanes``: reservations, payment notifications and test-drive / service bookings
through one group-commit writer) sit in front of the FastAPI app; every other path goes to the app
unchanged. The tests' ``client`` is this same stack.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.lanes import LaneApp


class Served:
    """The served stack around a FastAPI app; ``fastapi`` and ``state`` reach the app inside."""

    def __init__(self, app: FastAPI, *, booking_route: bool = True) -> None:
        self.fastapi = app
        # Bodies are bounded inside: the app's own BodyLimit middleware for its routes, and each lane
        # reads at most its MAX_BODY. A second BodyLimit around the whole stack turned a chunked body
        # past the limit on an app route into a 400 (the app's body parser saw the outer refusal).
        self._stack: ASGIApp = LaneApp(app, booking=booking_route)

    @property
    def state(self) -> State:
        """The FastAPI app's state (settings, engine, sessions, lanes, ...)."""
        return self.fastapi.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._stack(scope, receive, send)


def create(settings: Settings | None = None) -> Served:
    """Build the served app from ``settings`` (the environment's CARLOOP_* settings by default)."""
    return Served(create_app(settings or Settings()))


def create_without_booking_route(settings: Settings | None = None) -> Served:
    """The same app without the lean booking route (the booking bench's FastAPI comparison)."""
    return Served(create_app(settings or Settings()), booking_route=False)
