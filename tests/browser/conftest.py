"""Browser fixtures: the real app under uvicorn on a free port, and Debian's Chromium through Playwright.

``live_server`` serves ``create_app(settings)`` from a background thread on a fresh SQLite file (one per
test module); seed it with ``live_server.seed(lambda session: ...)``. ``page`` is a fresh browser context
whose relative URLs resolve against the live server, so ``page.goto("/login?lang=en")`` just works.
Without a Chromium the tests skip with the reason shown; on CI (``CI=true``) a missing browser fails.
A failing browser test leaves a screenshot in ``test-results/``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from carloop.db import Base, enable_wal, make_engine
from carloop.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
T = TypeVar("T")


@dataclass
class LiveServer:
    """A running carloop app: its base URL, settings, app object and database sessions."""

    url: str
    settings: Settings
    app: FastAPI

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The app's own session factory (the same database the server writes)."""
        factory: sessionmaker[Session] = self.app.state.sessions
        return factory

    def seed(self, fill: Callable[[Session], T]) -> T:
        """Run ``fill(session)`` in one committed transaction on the server's database; return its result."""
        with self.sessions.begin() as session:
            return fill(session)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_settings() -> dict[str, Any]:
    """More settings for the module's live server (a module overrides this, e.g. with an SMS stand-in)."""
    return {}


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, live_settings: dict[str, Any]
) -> Iterator[LiveServer]:
    """The real app served by uvicorn in a background thread, on a fresh SQLite database."""
    import carloop.models  # noqa: F401 - registers every domain's tables on Base.metadata
    from carloop.web.app import create_app

    sock = _free_socket()
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    db_file = tmp_path_factory.mktemp("live") / "carloop-live.db"
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{db_file}",
        host="127.0.0.1",
        port=port,
        public_base_url=url,
        otp_sender="page",
        **live_settings,
    )
    schema_engine = make_engine(settings)
    enable_wal(schema_engine)
    Base.metadata.create_all(schema_engine)
    schema_engine.dispose()

    app = create_app(settings)
    # log_config=None: leave the test process's logging alone (no dictConfig from uvicorn).
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the live server did not start (see the log above)")
        time.sleep(0.02)
    try:
        yield LiveServer(url=url, settings=settings, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.engine.dispose()


def _chromium_path() -> str:
    return os.environ.get("CARLOOP_CHROMIUM") or "/usr/bin/chromium"


def _missing_browser(reason: str) -> NoReturn:
    if ON_CI:
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs Debian's chromium)")
    pytest.skip(f"{reason}; install Debian's chromium (apt-get install chromium) to run browser tests")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's sync API, started once per test process."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        _missing_browser("the playwright package is not installed")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless system Chromium (``CARLOOP_CHROMIUM`` or /usr/bin/chromium) with a throwaway profile."""
    path = _chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        _missing_browser(f"no Chromium at {path}")
    # launch() gives the browser a fresh temporary user-data dir and removes it on close.
    browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Remember each phase's report on the item so ``page`` can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser_context_args() -> dict[str, Any]:
    """Options for each test's browser context; override in a test module to change them."""
    return {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def page(
    browser: Browser,
    live_server: LiveServer,
    browser_context_args: dict[str, Any],
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """A page in a fresh context (no cookies, zh-CN browser) whose relative URLs go to the live server."""
    context = browser.new_context(base_url=live_server.url, **browser_context_args)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            folder = Path(request.config.rootpath) / "test-results"
            folder.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
            try:
                page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
            except Exception as err:  # a screenshot must never hide the real failure
                print(f"could not save a screenshot: {err}")
        context.close()
