"""The ASGI entry point for servers: ``granian --interface asgi --factory carloop.web.asgi:create``
(what ``carloop serve`` runs).

The fast lanes (``web.lanes``: reservations and payment notifications through one group-commit
writer) and the booking route (``POST /api/v1/appointments``) sit in front of the FastAPI app;
every other path goes to the app unchanged.
"""

from __future__ import annotations

from carloop.appointments.asgi import BookingApp
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.lanes import LaneApp
from carloop.web.limits import BodyLimit


def create(settings: Settings | None = None) -> BodyLimit:
    """Build the served app from ``settings`` (the environment's CARLOOP_* settings by default);
    bodies are bounded, lanes too."""
    settings = settings or Settings()
    app = create_app(settings)
    return BodyLimit(BookingApp(LaneApp(app), app), settings.max_body_bytes)


def create_without_booking_route(settings: Settings | None = None) -> BodyLimit:
    """The same app without the lean booking route (the booking bench's FastAPI comparison)."""
    settings = settings or Settings()
    return BodyLimit(LaneApp(create_app(settings)), settings.max_body_bytes)
