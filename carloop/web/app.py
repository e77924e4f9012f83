"""The FastAPI application: JSON API under /api/v1, pages, problem errors, languages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import Depends, FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from carloop import __version__
from carloop.accounts import api as accounts_api
from carloop.accounts import pages as accounts_pages
from carloop.accounts.verifiers import build_verifier
from carloop.analytics import api as analytics_api
from carloop.analytics import live as analytics_live
from carloop.analytics import pages as analytics_pages
from carloop.appointments import api as appointments_api
from carloop.appointments import pages as appointments_pages
from carloop.bus import runtime as bus_runtime
from carloop.campaigns import link_pages as campaign_link_pages
from carloop.campaigns import live_pages as campaign_live_pages
from carloop.campaigns import pages as campaign_pages
from carloop.campaigns import registration_api as campaign_registration_api
from carloop.campaigns import registration_pages as campaign_registration_pages
from carloop.catalog import api as catalog_api
from carloop.catalog import looks
from carloop.catalog import pages as catalog_pages
from carloop.community import api as community_api
from carloop.community import pages as community_pages
from carloop.community import warmup as community_warmup
from carloop.console import pages as console_pages
from carloop.db import make_engine, make_replica_engine, make_session_factory
from carloop.ecosystem import api as ecosystem_api
from carloop.ecosystem import live_pages as ecosystem_live_pages
from carloop.ecosystem import pages as ecosystem_pages
from carloop.ecosystem import runtime as ecosystem_runtime
from carloop.handlers import all_handlers, domain_handlers
from carloop.invoicing import pages as invoicing_pages
from carloop.invoicing.fapiao import build_einvoicer
from carloop.jobs import registry as jobs_registry
from carloop.jobs import runner as jobs_runner
from carloop.loyalty import api as loyalty_api
from carloop.loyalty import catalogue_pages as loyalty_catalogue_pages
from carloop.loyalty import pages as loyalty_pages
from carloop.network import api as network_api
from carloop.network import pages as network_pages
from carloop.network import rules as network_rules
from carloop.network import sample as network_sample
from carloop.notices import pages as notices_pages
from carloop.ordering import api as ordering_api
from carloop.ordering import family_pages as ordering_family_pages
from carloop.ordering import pages as ordering_pages
from carloop.ordering import staff_pages as ordering_staff_pages
from carloop.outbox import worker as outbox_worker
from carloop.payments import api as payments_api
from carloop.payments import pages as payments_pages
from carloop.payments import reconciliation_pages
from carloop.payments.providers import build_providers
from carloop.production import api as production_api
from carloop.production import change_pages as production_change_pages
from carloop.production import inventory_pages as production_inventory_pages
from carloop.production import pages as production_pages
from carloop.settings import Settings
from carloop.sms.codes import SmsCodeSender
from carloop.sms.providers import build_gateway
from carloop.supply import api as supply_api
from carloop.supply import pages as supply_pages
from carloop.web import limits, problems, tracking
from carloop.web.captures import CAPTURE_HANDLERS, LOCK_FIRST
from carloop.web.i18n import request_locale
from carloop.web.templating import Renderer

STATIC = __file__.rsplit("/", 1)[0] + "/static"


Stop = Callable[[], None]


class Stoppable(Protocol):
    """A running component of the server."""

    def stop(self) -> None:
        """Stop what ``start`` started."""


def _nothing() -> None:
    """The stop of a component the settings turned off."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings``; nothing is created at import time."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Start every component of the server, in this order; stop them in reverse when it stops.

        Each domain offers ``start(settings, sessions)`` returning its stop (outbox, jobs) or what it
        started (ecosystem, analytics: kept on ``app.state`` for the pages, stopped with ``.stop()``).
        """
        sessions = app.state.sessions

        def keep(name: str, component: Stoppable | None) -> Stop:
            setattr(app.state, name, component)
            return component.stop if component is not None else _nothing

        components: list[Callable[[], Stop]] = [
            # outbox events to every domain's handlers (carloop/handlers.py), after commit: the database
            # poller, or with CARLOOP_EVENT_BUS the JetStream relay and one durable consumer per domain
            (
                (lambda: bus_runtime.start(settings, sessions, domains=domain_handlers(settings)))
                if settings.event_bus
                else (lambda: outbox_worker.start(settings, sessions, handlers=all_handlers(settings)))
            ),
            # scheduled promises (auto-lock, expiries, reminders, ledger check) under a database lease
            lambda: jobs_runner.start(settings, sessions, jobs=app.state.jobs),
            # MQTT broker (embedded for the demo), the bridge and the simulated fleet
            lambda: keep("ecosystem", ecosystem_runtime.start(settings, sessions)),
            # the analytics warehouse, warmed up from its snapshot
            lambda: keep("analytics", analytics_live.start(settings, sessions)),
            # the duplicate hints' sentence encoder and indexes, loaded in the background
            lambda: community_warmup.start(settings, sessions),
        ]
        stops: list[Stop] = []
        try:
            for start in components:
                stops.append(await run_in_threadpool(start))
            yield
        finally:
            for stop in reversed(stops):
                await run_in_threadpool(stop)
            if app.state.read_engine is not None:
                app.state.read_engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="carloop",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        dependencies=[Depends(limits.bounded_ids)],  # every int id in the route table fits 64 bits
    )
    engine = make_engine(settings)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_session_factory(engine)
    app.state.read_engine = make_replica_engine(settings)  # reports read a streaming replica if set
    app.state.read_sessions = (
        app.state.sessions if app.state.read_engine is None else make_session_factory(app.state.read_engine)
    )
    app.state.renderer = Renderer(settings.default_locale, development=settings.environment != "production")
    app.state.renderer.add_globals(
        car_look=looks.car_look,
        option_look=looks.option_look,
        city_zh=network_sample.city_name_zh,
        address_in=network_rules.address_in,
    )
    app.state.payment_provider = build_providers(settings)  # the default, and the others by name
    # this app's scheduled jobs: the registry's, and the daily reconciliation when a provider has books
    # to compare (kept on the app, never added to the module's registry other apps in the process share)
    app.state.jobs = list(jobs_registry.JOBS) + (
        [reconciliation_pages.daily_job(app.state.payment_provider)]
        if reconciliation_pages.reconcilable(app.state.payment_provider)
        else []
    )
    app.state.realname_verifier = build_verifier(settings)
    app.state.sms_gateway = build_gateway(settings)
    if app.state.sms_gateway is not None:  # else accounts.edge falls back to the log (never in production)
        app.state.code_sender = SmsCodeSender(settings, app.state.sms_gateway)
    app.state.einvoicer = build_einvoicer(settings)  # None: the maker issues e-invoices offline
    app.state.capture_handlers = CAPTURE_HANDLERS
    app.state.lock_first = LOCK_FIRST

    problems.install(app)
    app.add_middleware(limits.BodyLimit, max_bytes=settings.max_body_bytes)

    @app.middleware("http")
    async def _locale(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.locale = request_locale(request, settings.default_locale)
        new_visitor = tracking.ensure_visitor(request)
        response = await call_next(request)
        if new_visitor and "text/html" in response.headers.get("content-type", ""):
            tracking.remember_visitor(request, response)
        response.headers.setdefault("Content-Language", "zh-CN" if request.state.locale == "zh_CN" else "en")
        return response

    for module in (
        catalog_api,
        ecosystem_api,
        accounts_api,
        ordering_api,
        payments_api,
        network_api,
        appointments_api,
        analytics_api,
        production_api,
        loyalty_api,
        community_api,
        supply_api,
        campaign_registration_api,
    ):
        app.include_router(module.router, prefix="/api/v1")
    for module in (
        catalog_pages,
        ecosystem_pages,
        ecosystem_live_pages,
        accounts_pages,
        ordering_pages,
        ordering_family_pages,
        ordering_staff_pages,
        payments_pages,
        reconciliation_pages,
        analytics_pages,
        console_pages,
        production_pages,
        production_change_pages,
        production_inventory_pages,
        loyalty_pages,
        loyalty_catalogue_pages,
        community_pages,
        network_pages,
        appointments_pages,
        invoicing_pages,
        notices_pages,
        supply_pages,
        campaign_registration_pages,
        campaign_pages,
        campaign_live_pages,
        campaign_link_pages,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        """Browsers that ask for the classic icon get the SVG one."""
        return RedirectResponse("/static/favicon.svg", status_code=301)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness and database reachability."""
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__}

    return app
