"""The ASGI entry point for servers: ``uvicorn carloop.web.asgi:create --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from carloop.settings import Settings
from carloop.web.app import create_app


def create() -> FastAPI:
    """Build the app from the environment's CARLOOP_* settings."""
    return create_app(Settings())
