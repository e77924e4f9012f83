"""The ASGI entry point for servers: ``granian --interface asgi --factory carloop.web.asgi:create_worker``
(what ``carloop serve`` runs, and what ``carloop bench launch`` / ``crash`` measure: ``granian_command``).

The lanes (``web.lanes``: reservations, payment notifications and test-drive / service bookings
through one group-commit writer) sit in front of the FastAPI app; every other path goes to the app
unchanged. The tests' ``client`` is this same stack. Granian serves it: its raw-ASGI ceiling is about
twice uvicorn's per CPU-second on these machines (../shared/BASELINES.md), and the lanes are raw ASGI.
"""

from __future__ import annotations

import gc
import sys

from fastapi import FastAPI
from granian.utils.proxies import wrap_asgi_with_proxy_headers
from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.lanes import LaneApp

FACTORY = "carloop.web.asgi:create_worker"


class Served:
    """The served stack around a FastAPI app; ``fastapi`` and ``state`` reach the app inside."""

    def __init__(self, app: FastAPI, *, booking_route: bool = True) -> None:
        self.fastapi = app
        # Bodies are bounded inside: the app's own BodyLimit middleware for its routes, and each lane
        # reads at most its MAX_BODY. A second BodyLimit around the whole stack turned a chunked body
        # past the limit on an app route into a 400 (the app's body parser saw the outer refusal).
        stack: ASGIApp = LaneApp(app, booking=booking_route)
        proxies = app.state.settings.forwarded_allow_ips.strip()
        if proxies:  # the client address behind a trusted proxy, as uvicorn's --proxy-headers did
            stack = wrap_asgi_with_proxy_headers(stack, proxies)
        self._stack = stack

    @property
    def state(self) -> State:
        """The FastAPI app's state (settings, engine, sessions, lanes, ...)."""
        return self.fastapi.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._stack(scope, receive, send)


def create(settings: Settings | None = None) -> Served:
    """Build the served app from ``settings`` (the environment's CARLOOP_* settings by default)."""
    return Served(create_app(settings or Settings()))


def create_worker(settings: Settings | None = None) -> Served:
    """``create`` in a granian worker process that ends with its server: the worker is a child of
    granian's main process, and a SIGKILLed main must not leave it serving alone (uvicorn with one
    worker was one process; a crash test kills the process it started and expects the port to close).

    What start-up built (the app, its catalogs, SQLAlchemy's mappings: ~300,000 objects) is then moved
    out of the collector's generations (``gc.freeze``): each full collection used to walk all of it
    again, about 30 us of CPU per launch request on this machine."""
    _die_with_parent()
    served = create(settings)
    gc.collect()
    gc.freeze()
    return served


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import os
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() == 1:  # the main process was gone before the line above took effect
        os._exit(1)


def create_without_booking_route(settings: Settings | None = None) -> Served:
    """The same app without the lean booking route (the booking bench's FastAPI comparison)."""
    return Served(create_app(settings or Settings()), booking_route=False)


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve the stack with granian in the foreground (``carloop serve``), as ``granian_command`` does."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        FACTORY,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=workers,
        loop=Loops.uvloop,
        websockets=False,
        backlog=4096,
        log_access=False,
    ).serve()


def granian_command(*, host: str, port: int, workers: int, factory: str = FACTORY) -> list[str]:
    """The command line that serves ``factory`` with granian as ``carloop serve`` does (for benches)."""
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", factory,
        "--host", host, "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
        "--no-ws", "--backlog", "4096", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
