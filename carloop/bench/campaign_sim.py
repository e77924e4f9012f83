"""``carloop simulate campaign``: a launch campaign from pre-registration to the last opening notice.

On a fresh database (a temporary SQLite file, or ``<name>_campaign_<pid>`` next to the PostgreSQL one
given) it bulk-inserts N registrants of a campaign (95% asked to be told; the surge's buyers among
them, linked to their accounts), starts the served stack (``carloop.web.asgi:create``) and, at the
reveal, at once:

- runs the ``campaign_openings`` job (``opening.open_due``): one notice and one outbox event each;
- runs outbox dispatchers in their own processes with every domain's handlers (``all_handlers``): the
  opening notices go through the real Tencent Cloud SMS adapter (signed TC3 requests) to a local
  provider that answers as Tencent does and counts what each phone received;
- drives the reservation surge through the real intake (``bench.launch`` and its load generator).

It reports notices sent per second, the time from the reveal until the last registrant was told,
whether every registrant who asked got exactly one message (the provider's count), the surge's
figures and the campaign's attribution table.
"""

from __future__ import annotations

import json
import multiprocessing
import secrets
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from carloop.bench.db import bench_database, drop_bench_database
from carloop.bench.launch import Server, _phase, drive, free_port
from carloop.bench.launch_workload import build_jobs, seed_buyers

CITIES = ("上海", "北京", "深圳", "杭州", "广州", "成都", "武汉", "南京", "西安", "重庆")
CHANNELS = ("", "", "web", "livestream", "kol:li-ming", "kol:wang-fang", "store")
CODE = "sim-launch"
CHUNK = 20_000


# --- the SMS provider: answers as Tencent Cloud does and counts per phone ------------------------


class _Provider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProviderHandler)
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()


class _ProviderHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

    def do_POST(self) -> None:
        """One SendSms (up to 200 numbers): count each number, answer Ok for each."""
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        payload = json.loads(body or b"{}")
        phones = [str(p) for p in payload.get("PhoneNumberSet") or [""]]
        server = self.server
        assert isinstance(server, _Provider)
        with server.lock:
            server.received.update(phones)
        statuses = [
            {"SerialNo": secrets.token_hex(8), "PhoneNumber": p, "Fee": 1, "Code": "Ok"} for p in phones
        ]
        answer = json.dumps({"Response": {"SendStatusSet": statuses, "RequestId": secrets.token_hex(8)}})
        data = answer.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def _sms_env(port: int) -> dict[str, str]:
    from carloop.sms.rules import TEMPLATES

    templates = {purpose: str(100000 + i) for i, purpose in enumerate(sorted(TEMPLATES))}
    templates |= {f"{p}:en": str(200000 + i) for i, p in enumerate(sorted(TEMPLATES))}
    return {
        "CARLOOP_SMS_PROVIDER": "tencent",
        "CARLOOP_SMS_ACCESS_KEY_ID": "AKIDsimulatedcampaign",
        "CARLOOP_SMS_ACCESS_KEY_SECRET": "simulated-campaign-secret",
        "CARLOOP_SMS_SIGN_NAME": "卡路智行",
        "CARLOOP_SMS_APP_ID": "1400000001",
        "CARLOOP_SMS_ENDPOINT": f"http://127.0.0.1:{port}",
        "CARLOOP_SMS_TEMPLATES": json.dumps(templates),
    }


def _settings(url: str, env: dict[str, str], rate: int) -> Any:
    from carloop.settings import Settings

    values: dict[str, Any] = {k.removeprefix("CARLOOP_").lower(): v for k, v in env.items()}
    values["sms_templates"] = json.loads(values["sms_templates"])
    return Settings(
        environment="development",
        database_url=url,
        campaign_notice_per_second=rate,
        sms_per_phone_window=100,
        **values,
    )


# --- the world ------------------------------------------------------------------------------------


def _seed(url: str, settings: Any, registrants: int, buyer_phones: list[str], show: bool) -> int:
    """The campaign (reveal in an hour for now) and its registrants in bulk; the campaign's id."""
    from sqlalchemy import insert, select

    from carloop.accounts.models import Customer
    from carloop.campaigns.models import Campaign
    from carloop.campaigns.registration_models import CampaignRegistration
    from carloop.clock import utcnow
    from carloop.db import make_engine, make_session_factory

    engine = make_engine(settings)
    factory = make_session_factory(engine)
    now = utcnow()
    with factory.begin() as session:
        campaign = Campaign(
            code=CODE,
            name_en="Simulated launch",
            name_zh="模拟发布会",
            models=["su7", "yu7"],
            trims=[],
            reveal_at=now + timedelta(hours=1),
            ends_at=now + timedelta(days=30),
            perk=None,
            perks_taken=0,
            version=1,
            created_by="simulation",
        )
        session.add(campaign)
        session.flush()
        campaign_id = campaign.id
        customers = {phone: cid for phone, cid in session.execute(select(Customer.phone, Customer.id))}
    bar = _bar(show, "registrants", registrants)
    linked = [p for p in buyer_phones if p in customers][:registrants]
    for start in range(0, registrants, CHUNK):
        rows = []
        for i in range(start, min(registrants, start + CHUNK)):
            phone = linked[i] if i < len(linked) else f"+86150{i:08d}"
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "phone": phone,
                    "model_code": "su7" if i % 3 else "yu7",
                    "city": CITIES[i % len(CITIES)],
                    "store_id": None,
                    "channel": CHANNELS[i % len(CHANNELS)],
                    "notify": i % 20 != 7,  # 95% asked to be told
                    "locale": "en" if i % 50 == 3 else "zh_CN",
                    "customer_id": customers.get(phone),
                    "created_at": now,
                    "updated_at": now,
                    "converted_at": now if phone in customers else None,
                }
            )
        with factory.begin() as session:
            session.execute(insert(CampaignRegistration), rows)
        if bar is not None:
            bar[0].update(bar[1], completed=min(registrants, start + CHUNK))
    if bar is not None:
        bar[0].stop()
    engine.dispose()
    return campaign_id


def _bar(show: bool, label: str, total: int) -> tuple[Any, Any] | None:
    if not show:
        return None
    from rich.progress import Progress

    progress = Progress()
    progress.start()
    return progress, progress.add_task(label, total=total)


def _reveal_soon(settings: Any, campaign_id: int, lead_s: float) -> Any:
    """Move the reveal ``lead_s`` from now and plan the automatic wave; the reveal moment."""
    from sqlalchemy import update

    from carloop.campaigns import opening
    from carloop.campaigns.models import Campaign
    from carloop.clock import utcnow
    from carloop.db import make_engine, make_session_factory

    engine = make_engine(settings)
    reveal = utcnow() + timedelta(seconds=lead_s)
    with make_session_factory(engine).begin() as session:
        session.execute(update(Campaign).where(Campaign.id == campaign_id).values(reveal_at=reveal))
        opening.ensure_default_wave(session=session, settings=settings, campaign_id=campaign_id)
    engine.dispose()
    return reveal


def _dispatcher(url: str, env: dict[str, str], rate: int, stop: Any) -> None:
    """An outbox dispatcher process with every domain's handlers (as ``carloop orders dispatch-events``)."""
    from carloop.db import make_engine, make_session_factory
    from carloop.handlers import all_handlers
    from carloop.outbox.service import dispatch

    settings = _settings(url, env, rate)
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    handlers = all_handlers(settings)
    while not stop.is_set():
        if not dispatch(factory, handlers, limit=500):
            time.sleep(0.05)
    engine.dispose()


def _told(factory: Any, campaign_id: int, *, queued_only: bool = False) -> tuple[int, int]:
    """(notices no longer queued, notices queued) of the campaign (a busy SQLite file: asked again).
    ``queued_only`` counts the queued alone (a range of the status index, not every notice: the
    wait loop asks this every few tenths of a second while a million are sent); the first is then 0."""
    from sqlalchemy.exc import OperationalError

    for _ in range(20):
        try:
            return _count_told(factory, campaign_id, queued_only)
        except OperationalError:
            time.sleep(0.5)
    return _count_told(factory, campaign_id, queued_only)


def _count_told(factory: Any, campaign_id: int, queued_only: bool) -> tuple[int, int]:
    from sqlalchemy import func, select

    from carloop.campaigns.registration_models import OpeningNotice

    with factory() as session:
        if queued_only:
            queued = session.scalar(
                select(func.count()).where(
                    OpeningNotice.campaign_id == campaign_id, OpeningNotice.status == "queued"
                )
            )
            return 0, int(queued or 0)
        rows = {
            status: count
            for status, count in session.execute(
                select(OpeningNotice.status, func.count())
                .where(OpeningNotice.campaign_id == campaign_id)
                .group_by(OpeningNotice.status)
            )
        }
    queued = int(rows.pop("queued", 0))
    return sum(int(v) for v in rows.values()), queued


def run_campaign(
    *,
    registrants: int,
    orders: int,
    concurrency: int,
    database_url: str | None,
    workers: int,
    rate: int,
    dispatchers: int,
    show: bool,
    give_up_s: float = 7200.0,
) -> dict[str, Any]:
    """The whole simulation; returns the JSON report."""
    from carloop.campaigns import opening
    from carloop.db import make_engine, make_session_factory

    provider = _Provider()
    threading.Thread(target=provider.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    env = _sms_env(provider.server_address[1])
    with tempfile.TemporaryDirectory(prefix="carloop-campaign-") as tmp:
        workdir = Path(tmp)
        url = bench_database(database_url, workdir, "campaign")
        settings = _settings(url, env, rate)
        buyers = seed_buyers(url, max(10, min(20_000, orders // 10)), max(1, min(5000, orders // 100)))
        buyer_phones = [f"+86139{i:08d}" for i in range(len(buyers))]
        seeding = time.perf_counter()
        campaign_id = _seed(url, settings, registrants, buyer_phones, show)
        seed_s = time.perf_counter() - seeding
        jobs, _ = build_jobs(orders=orders, buyers=buyers, seed=7, prefix="S") if orders else ([], 0)
        port = free_port()
        server = Server(url, port, workers, {**env, "CARLOOP_JOBS_TICK": "0"})
        server.start()
        engine = make_engine(settings)
        factory = make_session_factory(engine)
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        procs = [ctx.Process(target=_dispatcher, args=(url, env, rate, stop)) for _ in range(dispatchers)]
        queue_s: dict[str, float] = {}
        try:
            reveal = _reveal_soon(settings, campaign_id, lead_s=2.0)
            for proc in procs:
                proc.start()
            time.sleep(max(0.0, (reveal - _now()).total_seconds()))

            def queue() -> None:
                started = time.perf_counter()
                opening.open_due(factory, _now())
                queue_s["s"] = time.perf_counter() - started

            queuer = threading.Thread(target=queue)
            queuer.start()
            bar = _bar(show, "registrants told", sum(1 for i in range(registrants) if i % 20 != 7))
            polled = {"at": 0.0}

            def poll(_done: int = 0) -> None:
                if bar is not None and time.monotonic() - polled["at"] > 0.5:
                    polled["at"] = time.monotonic()
                    bar[0].update(bar[1], completed=_told(factory, campaign_id)[0])

            surge = None
            if jobs:
                surge = drive(port, jobs, concurrency, workdir, label="surge", show=False, on_progress=poll)
            deadline = time.monotonic() + give_up_s
            while time.monotonic() < deadline:
                queuer.join(0.2)
                waiting = _told(factory, campaign_id, queued_only=True)[1]
                poll()
                if not queuer.is_alive() and waiting == 0:
                    break
                time.sleep(0.3)
            if bar is not None:
                bar[0].update(bar[1], completed=_told(factory, campaign_id)[0])
                bar[0].stop()
        finally:
            stop.set()
            for proc in procs:
                proc.join(30)
            server.stop()
        report = _report(factory, campaign_id, reveal, provider, registrants)
        engine.dispose()
        provider.shutdown()
        provider.server_close()
        drop_bench_database(url)
    surge_figures = _phase(surge, [j.kind for j in jobs]) if surge is not None else {}
    return {
        **report,
        "queue_s": round(queue_s.get("s", 0.0), 2),
        "seed_registrants_s": round(seed_s, 2),
        "surge": surge_figures,
        "rate_per_s_setting": rate,
        "dispatchers": dispatchers,
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "workers": workers,
        "orders": orders,
    }


def _now() -> Any:
    from carloop.clock import utcnow

    return utcnow()


def _report(
    factory: Any, campaign_id: int, reveal: Any, provider: _Provider, registrants: int
) -> dict[str, Any]:
    from carloop.campaigns import opening
    from carloop.clock import as_utc

    with factory() as session:
        progress = opening.progress(session=session, campaign_id=campaign_id)
        attribution = _attribution(session, campaign_id)
    counts = provider.received
    last = as_utc(progress.last_sent_at) if progress.last_sent_at else None
    return {
        "registrants": registrants,
        "asked": progress.asked,
        "notices_sent": progress.sent,
        "notices_failed": progress.failed,
        "notices_still_queued": progress.queued,
        "sms_received": sum(counts.values()),
        "phones_told": len(counts),
        "told_twice_or_more": sum(1 for n in counts.values() if n > 1),
        "every_registrant_told_exactly_once": (
            progress.sent == progress.asked == len(counts) and all(n == 1 for n in counts.values())
        ),
        "notices_per_s": round(progress.per_second, 1),
        "time_to_last_told_s": round((last - reveal).total_seconds(), 2) if last else None,
        "attribution": attribution,
    }


def _attribution(session: Any, campaign_id: int) -> list[dict[str, Any]]:
    """The campaign's attribution table by channel and source (its orders, first and last touch)."""
    from sqlalchemy import func, select

    from carloop.campaigns.models import CampaignLink, CampaignOrder

    rows = session.execute(
        select(
            CampaignLink.channel,
            CampaignLink.source,
            func.count(CampaignOrder.id),
            func.count(CampaignOrder.paid_at),
            func.count(CampaignOrder.locked_at),
        )
        .select_from(CampaignOrder)
        .outerjoin(CampaignLink, CampaignLink.id == CampaignOrder.last_link_id)
        .where(CampaignOrder.campaign_id == campaign_id)
        .group_by(CampaignLink.channel, CampaignLink.source)
    ).all()
    return [
        {"channel": c or "direct", "source": s or "", "reservations": r, "paid": p, "locked": lk}
        for c, s, r, p, lk in rows
    ]
