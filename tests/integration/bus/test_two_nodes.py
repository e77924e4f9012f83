"""Issue 21's Done-when test: two ``carloop serve`` processes on one PostgreSQL with the JetStream bus;
one is SIGKILLed mid-surge and restarted. Every acknowledged order's events are handled exactly once
(referral points, the production plan and its notices, the analytics funnel) and every periodic job ran
once across the cluster.

The surge: buyers reserve, pay (the provider's signed notification) and lock over HTTP through a
round-robin balancer that fails over to the other node, repeating requests with their
Idempotency-Key as a client must. Node A is killed after a third of the buyers are through and
restarted while the rest are served by node B.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import nats
import pytest
from builders.production import publish_sample_plan
from sqlalchemy import Engine, create_engine, func, select, text

from carloop.accounts import service as accounts
from carloop.analytics.models import FunnelEvent
from carloop.analytics.rules import Stage
from carloop.bus.jetstream import BusConfig
from carloop.bus.models import DeadLetter, ProcessedEvent
from carloop.cli import db
from carloop.db import make_engine, make_session_factory
from carloop.handlers import domain_handlers
from carloop.jobs.models import ScheduledJob
from carloop.jobs.registry import JOBS
from carloop.loyalty import service as loyalty
from carloop.loyalty.rules import EARN_RULES, EarnReason
from carloop.notices.models import Notice
from carloop.outbox.models import OutboxEvent
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.production.models import Slot
from carloop.settings import Settings

from .conftest import ON_CI
from .nodes import Balancer, Node

PG_URL = os.environ.get("CARLOOP_TEST_DATABASE_URL", "")
SECRET = "two-nodes-simulator-secret"
BUYERS = int(os.environ.get("CARLOOP_TEST_NODES_BUYERS", "12"))
CONFIG = {"configuration": {"model": "su7", "trim": "pro", "options": []}}


@pytest.fixture
def cluster_db() -> Iterator[tuple[str, Engine]]:
    """A fresh PostgreSQL database migrated by Alembic (the nodes share it)."""
    if not PG_URL:
        if ON_CI:
            pytest.fail("CI must set CARLOOP_TEST_DATABASE_URL")
        pytest.skip("two nodes share one PostgreSQL: CARLOOP_TEST_DATABASE_URL is not set")
    name = f"carloop_nodes_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(Settings(environment="test", database_url=url))
    db.upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _node_env(nats_url: str, bus: BusConfig) -> dict[str, str]:
    return {
        "CARLOOP_ENVIRONMENT": "test",
        "CARLOOP_SIMULATOR_SECRET": SECRET,
        "CARLOOP_EVENT_BUS": nats_url,
        "CARLOOP_EVENT_STREAM": bus.stream,
        "CARLOOP_EVENT_SUBJECT_PREFIX": bus.prefix,
        "CARLOOP_EVENT_ACK_WAIT": "4",  # the killed node's in-flight events come back after 4 s
        "CARLOOP_EVENT_BACKOFF": "[0.5, 2, 5]",  # racing re-plans of the two nodes retry
        "CARLOOP_OUTBOX_INTERVAL": "0.05",
        "CARLOOP_JOBS_TICK": "0.1",
        "CARLOOP_JOBS_LEASE_SECONDS": "20",  # a job the kill interrupts is taken over after 20 s
        # every job is due at once when the cluster starts, then not again within the test
        "CARLOOP_JOBS_EVERY": json.dumps({job.name: 3600 for job in JOBS}),
        "CARLOOP_ECOSYSTEM": "off",
    }


def _seed(url: str) -> tuple[int, list[str]]:
    """A referrer and BUYERS customers they referred, each signed in; (referrer id, tokens)."""
    settings = Settings(environment="test", database_url=url)
    engine = make_engine(settings)
    tokens = []
    with make_session_factory(engine).begin() as session:
        referrer = accounts.get_or_create_customer(session=session, phone="13700000000")
        session.flush()
        for i in range(BUYERS):
            buyer = accounts.get_or_create_customer(session=session, phone=f"139{i:08d}")
            session.flush()
            loyalty.record_referral(session=session, referrer_id=referrer.id, referee_id=buyer.id)
            tokens.append(accounts.start_session(session=session, settings=settings, customer=buyer)[0])
        referrer_id = referrer.id
    publish_sample_plan(make_session_factory(engine))  # HQ's first plan: locked orders get a window
    engine.dispose()
    return referrer_id, tokens


def _buy(lb: Balancer, token: str, index: int) -> str | None:
    """Reserve, pay and lock; the order number once the lock is acknowledged (None if refused)."""
    provider = SimulatorProvider(secret=SECRET)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client() as client:
        made = lb.request(
            "POST", "/api/v1/orders", client, json=CONFIG, headers={**auth, "Idempotency-Key": f"r{index}"}
        )
        if made.status_code not in (200, 201):
            return None
        order, payment = made.json()["order"], made.json()["payment"]
        form = provider.signed_notification(
            trade_no=payment["trade_no"],
            amount_fen=payment["amount_fen"],
            status=NotificationStatus.SUCCEEDED,
        )
        paid = lb.request("POST", "/api/v1/payments/notify/simulator", client, data=form)
        if paid.text != "success":
            return None
        body = {
            "acknowledge_non_refundable": True,
            "deposit_fen": order["deposit"]["amount_fen"],
            "configuration": order["summary"],
        }
        locked = lb.request(
            "POST",
            f"/api/v1/orders/{order['number']}/lock",
            client,
            json=body,
            headers={**auth, "Idempotency-Key": f"l{index}"},
        )
        return str(order["number"]) if locked.status_code == 200 else None


def _drained(engine: Engine, nats_url: str, bus: BusConfig, consumers: list[str]) -> str:
    """What is still under way ("" once every outbox row is relayed, no consumer has an event
    pending or unacked and every job ran and released its lease)."""

    async def waiting() -> dict[str, int]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            infos = {name: await js.consumer_info(bus.stream, name) for name in consumers}
            return {
                n: i.num_pending + i.num_ack_pending
                for n, i in infos.items()
                if i.num_pending + i.num_ack_pending
            }
        finally:
            await nc.close()

    with engine.connect() as conn:
        unrelayed = conn.scalar(select(func.count()).where(OutboxEvent.relayed_at.is_(None)))
        jobs_waiting = conn.scalar(
            select(func.count()).where(
                (ScheduledJob.runs == 0) | ScheduledJob.lease_until.is_not(None)  # never ran, or running
            )
        )
        jobs_known = conn.scalar(select(func.count()).select_from(ScheduledJob))
    pending = asyncio.run(waiting())
    if unrelayed or jobs_waiting or jobs_known != len(JOBS) or pending:
        return f"unrelayed {unrelayed}, jobs waiting {jobs_waiting} of {jobs_known}, consumers {pending}"
    return ""


def test_two_nodes_one_killed_mid_surge_handle_every_event_once_and_run_every_job_once(
    cluster_db: tuple[str, Engine], nats_url: str, bus: BusConfig, tmp_path: Path
) -> None:
    url, engine = cluster_db
    referrer, tokens = _seed(url)
    env = _node_env(nats_url, bus)
    a, b = Node("node-a", url, env, tmp_path), Node("node-b", url, env, tmp_path)
    lb = Balancer([a, b])
    consumers = list(domain_handlers(Settings(environment="test")))
    through = 0
    progress = threading.Condition()

    def buyer(index: int) -> str | None:
        nonlocal through
        try:
            return _buy(lb, tokens[index], index)
        finally:
            with progress:
                through += 1
                progress.notify_all()

    try:
        a.launch()
        b.launch()
        a.ready()
        b.ready()
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(buyer, i) for i in range(BUYERS)]
            with progress:
                assert progress.wait_for(lambda: through >= BUYERS // 3, timeout=120)
            a.kill()  # mid-surge: requests in flight, a batch of events unacked, maybe a relay round
            with progress:
                assert progress.wait_for(lambda: through >= BUYERS // 2, timeout=120)
            a.start()  # back while node B still serves the surge
            numbers = [f.result() for f in futures]
        assert all(numbers), numbers  # every buyer's lock was acknowledged (after fail-overs)
        assert a.alive() and b.alive()
        deadline = time.monotonic() + 300  # a safety net for a broken build, not a measurement
        stable, left = 0, "?"
        while stable < 2:  # drained twice in a row, a second apart
            assert time.monotonic() < deadline, f"the cluster did not drain: {left}"
            left = _drained(engine, nats_url, bus, consumers)
            stable = 0 if left else stable + 1
            time.sleep(1.0)
    finally:
        a.stop()
        b.stop()

    sessions = make_session_factory(engine)
    handlers = domain_handlers(Settings(environment="test"))
    with sessions() as session:
        # every (consumer, event) a handler exists for was handled: none lost (the key forbids twice)
        events = session.execute(select(OutboxEvent.id, OutboxEvent.name)).all()
        expected = {(c, e.id) for e in events for c, by_name in handlers.items() if by_name.get(e.name)}
        handled = {
            (c, e) for c, e in session.execute(select(ProcessedEvent.consumer, ProcessedEvent.event_id))
        }
        assert handled == expected
        assert not session.scalars(select(DeadLetter)).all()
        # points: the referrer earned once per referred buyer (up to the yearly cap), however often the
        # lock event came
        rule = EARN_RULES[EarnReason.REFERRAL]
        balance = loyalty.balance(session=session, customer_id=referrer)
        assert balance == min(BUYERS, rule.yearly_cap or BUYERS) * rule.points
        # production: one slot per locked order
        slots = session.scalars(select(Slot.number)).all()
        assert sorted(slots) == sorted(numbers)
        # analytics: each order paid and locked once in the funnel
        funnel = session.execute(
            select(FunnelEvent.order_id, FunnelEvent.stage, func.count()).group_by(
                FunnelEvent.order_id, FunnelEvent.stage
            )
        ).all()
        per_stage = {(row[0], str(row[1])): row[2] for row in funnel}
        assert {count for count in per_stage.values()} == {1}
        assert sum(1 for (_, stage) in per_stage if stage == str(Stage.LOCKED)) == BUYERS
        assert sum(1 for (_, stage) in per_stage if stage == str(Stage.PAID)) == BUYERS
        # notices: the production plan's first delivery window, once per order (a second handling
        # would leave a second notice under the next key, production:<order>:window:2)
        windows = session.execute(
            select(Notice.order_number, func.count())
            .where(Notice.kind == "window")
            .group_by(Notice.order_number)
        ).all()
        assert sorted(windows) == sorted((number, 1) for number in numbers)
        # jobs: each ran once in the cluster, although three processes started (A twice)
        jobs = session.scalars(select(ScheduledJob)).all()
        assert {job.name: job.runs for job in jobs} == {job.name: 1 for job in JOBS}
        assert all(job.owner == "" and job.lease_until is None for job in jobs)
    assert a.starts == 2 and lb.failovers > 0
