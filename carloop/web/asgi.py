"""The ASGI entry point for servers: ``uvicorn carloop.web.asgi:create --factory``.

The launch-day intake route (a lean group-commit path for reservations) sits in front of the
FastAPI app; every other path goes to the app unchanged.
"""

from __future__ import annotations

from carloop.ordering.intake.asgi import IntakeApp
from carloop.settings import Settings
from carloop.web.app import create_app


def create() -> IntakeApp:
    """Build the served app from the environment's CARLOOP_* settings."""
    return IntakeApp(create_app(Settings()))
