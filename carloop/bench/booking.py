"""``carloop bench booking``: many buyers race for the same test-drive slots over HTTP.

A fresh database (a temporary SQLite file, or a ``<name>_booking`` database next to the PostgreSQL
one given) gets the sample network; ``--slots`` test-drive slots are opened at Beijing and Shanghai
stores with one demo car each. granian serves the real app in its own process; ``--attempts``
booking requests (every slot at least once, the rest at random slots) are sent by ``--concurrency``
clients at once. The database is then audited: ``double_booked`` counts slots with more booked
appointments than demo cars, read from the appointment table itself (not from the holds that
enforce the rule), and every 201 the clients saw must be a booked appointment in the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from carloop.bench.db import bench_database
from carloop.web.asgi import granian_command

MODEL = "su7"
# The served stack (what ``carloop serve`` runs), and the same app without the lean booking route.
FACTORIES = {
    "lean": "carloop.web.asgi:create_worker",
    "fastapi": "carloop.web.asgi:create_without_booking_route",
}


def seed_world(url: str, slots: int, customers: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The sample network, buyers with sessions, and ``slots`` one-car test-drive slots (store, start)."""
    from sqlalchemy import select

    from carloop.accounts import service as accounts
    from carloop.appointments import service as appointments
    from carloop.appointments.schemas import AppointmentKind
    from carloop.clock import utcnow
    from carloop.db import make_engine, make_session_factory
    from carloop.network import service as network
    from carloop.network.models import Store
    from carloop.network.schemas import StoreKind
    from carloop.settings import Settings

    settings = Settings(database_url=url)
    engine = make_engine(settings)
    tokens: list[str] = []
    chosen: list[tuple[str, str]] = []
    with make_session_factory(engine).begin() as session:
        network.seed_sample_network(session=session)
        for i in range(customers):
            customer = accounts.get_or_create_customer(session=session, phone=f"137{i:08d}")
            tokens.append(accounts.start_session(session=session, settings=settings, customer=customer)[0])
        stores = list(
            session.scalars(
                select(Store)
                .where(
                    Store.kind.in_([StoreKind.STORE, StoreKind.CAR_CORNER]),
                    Store.city.in_(["Beijing", "Shanghai"]),
                )
                .order_by(Store.code)
            )
        )
        for store in stores:
            network.set_demo_cars(session=session, store=store, cars={MODEL: 1})
        day = (utcnow() + timedelta(days=1)).date()
        while len(chosen) < slots:
            for store in stores:
                for start, _, free in appointments.available_slots(
                    session=session,
                    store_code=store.code,
                    kind=AppointmentKind.TEST_DRIVE,
                    day=day,
                    model=MODEL,
                ):
                    if free == 1 and len(chosen) < slots:
                        chosen.append((store.code, start.isoformat()))
            day += timedelta(days=1)
            if day > (utcnow() + timedelta(days=55)).date():
                raise RuntimeError(f"not enough slots within the booking horizon for {slots}")
    engine.dispose()
    return tokens, chosen


class Server:
    """granian serving the real app in its own process group (as ``carloop serve`` does)."""

    def __init__(self, url: str, workers: int, factory: str = FACTORIES["lean"]) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url, self.workers, self.factory = url, workers, factory
        self.proc: subprocess.Popen[bytes] | None = None
        self.cpu_seconds = 0.0  # user + system time the server used, known once it stopped

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "CARLOOP_DATABASE_URL": self.url,
            "CARLOOP_ENVIRONMENT": "development",
            "CARLOOP_OUTBOX_INTERVAL": "0",
        }
        cmd = granian_command(host="127.0.0.1", port=self.port, workers=self.workers, factory=self.factory)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._cpu_before = before.ru_utime + before.ru_stime
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603 - our own interpreter
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        time.sleep(0.5 if self.workers > 1 else 0.1)
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("the server did not start")

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            self.cpu_seconds = after.ru_utime + after.ru_stime - self._cpu_before


async def _race(
    port: int, jobs: list[tuple[str, dict[str, Any]]], concurrency: int, progress: Any, client: str
) -> list[tuple[int | str, float]]:
    if client == "httpx":
        return await _race_httpx(port, jobs, concurrency, progress)
    results: list[tuple[int | str, float]] = [(0, 0.0)] * len(jobs)
    queue = iter(range(len(jobs)))
    requests = [_request_bytes(port, token, body) for token, body in jobs]

    async def worker() -> None:
        connection: RawConnection | None = None
        for i in queue:
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = await RawConnection.open(port)
                status: int | str = await connection.exchange(requests[i])
            except (OSError, asyncio.IncompleteReadError, ValueError) as err:
                status = type(err).__name__
                if connection is not None:
                    connection.close()
                connection = None
            results[i] = (status, (time.perf_counter() - started) * 1000)
            progress()
        if connection is not None:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def _request_bytes(port: int, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST /api/v1/appointments HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client connection: the load generator must cost far less than the
    server it measures (httpx spends ~2 ms of CPU per request, which on a 2-core machine competes
    with the server and dominated the tail). It sends whole requests and reads whole responses
    (``Content-Length`` or chunked), so every request still crosses real HTTP over TCP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> int:
        """Send one request and read its whole response; the status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            raise ValueError("response without a length")
        if headers.get("connection", "").lower() == "close":
            raise ValueError("server closed the connection")
        return status

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()


async def _race_httpx(
    port: int, jobs: list[tuple[str, dict[str, Any]]], concurrency: int, progress: Any
) -> list[tuple[int | str, float]]:
    import httpx

    results: list[tuple[int | str, float]] = [(0, 0.0)] * len(jobs)
    queue = iter(range(len(jobs)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:

        async def worker() -> None:
            for i in queue:
                token, body = jobs[i]
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/api/v1/appointments", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                    status: int | str = response.status_code
                except httpx.HTTPError as err:
                    status = type(err).__name__
                results[i] = (status, (time.perf_counter() - started) * 1000)
                progress()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else 0.0


def audit(url: str, capacity: int) -> dict[str, int]:
    """Booked appointments, and slots holding more bookings than cars, read from the appointment table."""
    from sqlalchemy import func, select

    from carloop.appointments.models import Appointment
    from carloop.appointments.schemas import AppointmentStatus
    from carloop.db import make_engine, make_session_factory
    from carloop.settings import Settings

    engine = make_engine(Settings(database_url=url))
    with make_session_factory(engine)() as session:
        booked = Appointment.status == AppointmentStatus.BOOKED
        rows = session.scalar(select(func.count()).select_from(Appointment).where(booked)) or 0
        per_slot = (
            select(Appointment.store_id, Appointment.starts_at, Appointment.model, func.count().label("n"))
            .where(booked)
            .group_by(Appointment.store_id, Appointment.starts_at, Appointment.model)
            .subquery()
        )
        over = session.scalar(select(func.count()).select_from(per_slot).where(per_slot.c.n > capacity)) or 0
        distinct = session.scalar(select(func.count()).select_from(per_slot)) or 0
    engine.dispose()
    return {"rows": int(rows), "overbooked_slots": int(over), "distinct_slots": int(distinct)}


def run(
    *,
    attempts: int,
    slots: int,
    concurrency: int,
    customers: int,
    workers: int,
    database_url: str | None,
    seed: int,
    show: bool,
    client: str = "raw",
    route: str = "lean",
) -> dict[str, Any]:
    """Set up, race, audit; returns the report."""
    if client not in ("raw", "httpx"):
        raise ValueError("--client is raw or httpx")
    if route not in FACTORIES:
        raise ValueError("--route is lean or fastapi")
    from carloop.settings import Settings

    with tempfile.TemporaryDirectory(prefix="carloop-booking-") as tmp:
        url = bench_database(database_url, Path(tmp), "booking", per_process=False)
        tokens, chosen = seed_world(url, slots, customers)
        rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
        targets = list(range(len(chosen))) + [
            rng.randrange(len(chosen)) for _ in range(max(0, attempts - len(chosen)))
        ]
        rng.shuffle(targets)
        targets = targets[:attempts]
        jobs = [
            (
                rng.choice(tokens),
                {"kind": "test_drive", "store_code": chosen[t][0], "starts_at": chosen[t][1], "model": MODEL},
            )
            for t in targets
        ]
        bar: Any = None
        task: Any = None
        if show:
            from rich.progress import Progress

            bar = Progress()
            bar.start()
            task = bar.add_task("booking", total=len(jobs))

        def progress() -> None:
            if bar is not None:
                bar.advance(task)

        load_before = os.getloadavg()[0]
        with Server(url, workers, FACTORIES[route]) as server:
            started = time.perf_counter()
            results, client_cpu = _run_isolated(
                lambda: _race(server.port, jobs, concurrency, progress, client), uvloop=client == "raw"
            )
            elapsed = time.perf_counter() - started
        if bar is not None:
            bar.stop()
        found = audit(url, capacity=1)
        statuses = [s for s, _ in results]
        latencies = [ms for _, ms in results]
        booked = statuses.count(201)
        backend = (
            "postgresql" if Settings(database_url=url).database_url.startswith("postgresql") else "sqlite"
        )
        return {
            "database": backend,
            "attempts": len(jobs),
            "slots": len(chosen),
            "concurrency": concurrency,
            "workers": workers,
            "booked": booked,
            "double_booked": found["overbooked_slots"] + max(0, booked - found["distinct_slots"]),
            "rejected_409": statuses.count(409),
            "errors": len(statuses) - booked - statuses.count(409),
            "error_statuses": sorted({str(s) for s in statuses if s not in (201, 409)}),
            "db_booked_rows": found["rows"],
            "p50_ms": _pct(latencies, 0.50),
            "p99_ms": _pct(latencies, 0.99),
            "max_ms": round(max(latencies), 2) if latencies else 0.0,
            "requests_per_s": round(len(jobs) / elapsed, 1) if elapsed else 0.0,
            "seconds": round(elapsed, 2),
            "server_cpu_ms_per_attempt": round(server.cpu_seconds * 1000 / max(1, len(jobs)), 3),
            "route": route,
            "client": client,
            "client_cpu_ms_per_attempt": round(client_cpu * 1000 / max(1, len(jobs)), 3),
            "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # before, after
        }


T = TypeVar("T")


def _run_isolated(make: Callable[[], Coroutine[Any, Any, T]], *, uvloop: bool = False) -> tuple[T, float]:
    """Run a coroutine on a fresh event loop in its own thread (the caller may already run a loop).

    Returns its value and the CPU seconds the thread used."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            factory = None
            if uvloop:
                import uvloop as uv

                factory = uv.new_event_loop
            started = time.thread_time()
            with asyncio.Runner(loop_factory=factory) as runner:
                box["value"] = runner.run(make())
            box["cpu"] = time.thread_time() - started
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    thread = threading.Thread(target=run, name="bench-client")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return cast(T, box["value"]), float(box["cpu"])
