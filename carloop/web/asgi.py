"""The ASGI entry point for servers: ``uvicorn carloop.web.asgi:create --factory``.

Two lean routes sit in front of the FastAPI app: the launch-day intake (a group-commit path for
reservations) and the booking route (``POST /api/v1/appointments``); every other path goes to the
app unchanged.
"""

from __future__ import annotations

from carloop.appointments.asgi import BookingApp
from carloop.ordering.intake.asgi import IntakeApp
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.limits import BodyLimit


def create() -> BodyLimit:
    """Build the served app from the environment's CARLOOP_* settings (bodies bounded, lanes too)."""
    settings = Settings()
    app = create_app(settings)
    return BodyLimit(BookingApp(IntakeApp(app), app), settings.max_body_bytes)
