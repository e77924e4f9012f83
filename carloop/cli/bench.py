"""``carloop bench ...`` and ``carloop simulate ...``: options only; the work is in ``carloop.bench``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from carloop.bench.similar import HELDOUT, LABELLED

bench_app = typer.Typer(help="Benchmarks: each prints one JSON object with --json.", no_args_is_help=True)
simulate_app = typer.Typer(help="Simulations over realistic data.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
BenchDbUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="sqlite:///... or postgresql://...; a fresh bench database is made."),
]
DbUrl = Annotated[str | None, typer.Option("--database-url", help="Overrides CARLOOP_DATABASE_URL.")]
Orders = Annotated[int, typer.Option("--orders", min=1, help="Reservations to send.")]
Concurrency = Annotated[int, typer.Option("--concurrency", min=1, max=4096, help="Client connections.")]
Workers = Annotated[int, typer.Option("--workers", min=1, max=8, help="Server worker processes.")]


def _emit(title: str, report: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or a two-column table of the report's figures."""
    if as_json:
        print(json.dumps(report))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in report.items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
        )
    Console().print(table)


# --- launch day (ordering) ----------------------------------------------------------------------

Provider = Annotated[
    str, typer.Option("--provider", help="The payment provider the server verifies: simulator or alipay.")
]


@bench_app.command("launch")
def launch(
    orders: Orders = 200_000,
    concurrency: Concurrency = 64,
    database_url: BenchDbUrl = None,
    workers: Workers = 1,
    compare_orders: Annotated[
        int, typer.Option(help="Orders for the per-request-commit run (0: skip the comparison).")
    ] = 10_000,
    hello_requests: Annotated[int, typer.Option(help="Requests for the hello ceiling.")] = 30_000,
    provider: Provider = "simulator",
    as_json: AsJson = False,
) -> None:
    """Reservation surge, provider's signed notifications, notification surge; audit what was stored."""
    from carloop.bench.launch import run_launch

    report = run_launch(
        orders=orders,
        concurrency=concurrency,
        database_url=database_url,
        workers=workers,
        compare_orders=compare_orders,
        hello_requests=hello_requests,
        show=not as_json,
        provider=provider,
    )
    _emit("launch bench", report, as_json)


@bench_app.command("crash")
def crash(
    orders: Orders = 20_000,
    concurrency: Concurrency = 64,
    database_url: BenchDbUrl = None,
    workers: Workers = 1,
    kill_at: Annotated[float, typer.Option(help="Kill the server after this share was acknowledged.")] = 0.5,
    provider: Provider = "simulator",
    kill_during: Annotated[
        str, typer.Option(help="The surge the kill hits: reservations or notifications.")
    ] = "reservations",
    as_json: AsJson = False,
) -> None:
    """SIGKILL the server mid-surge, restart it, let clients retry, and count what was lost."""
    from carloop.bench.launch import run_crash

    report = run_crash(
        orders=orders,
        concurrency=concurrency,
        database_url=database_url,
        workers=workers,
        kill_at=kill_at,
        show=not as_json,
        provider=provider,
        kill_during=kill_during,
    )
    _emit("launch bench", report, as_json)


# --- production ---------------------------------------------------------------------------------


@bench_app.command("allocate")
def allocate(
    orders: Annotated[int, typer.Option("--orders", min=1, help="Locked orders to allocate.")] = 1_000_000,
    weeks: Annotated[int, typer.Option("--weeks", min=4, max=104, help="Plan horizon.")] = 52,
    seed: Annotated[int, typer.Option(help="Random seed of the order book.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Allocate N locked orders over the horizon with constraints; then re-plan after one change."""
    from carloop.bench.allocate import run_allocate

    report = run_allocate(orders=orders, weeks=weeks, seed=seed, show=not as_json)
    _print_json(report, as_json)


@simulate_app.command("operations")
def operations(
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=104, help="Weeks to simulate.")] = 26,
    disruption: Annotated[
        str | None,
        typer.Option(
            "--disruption",
            help="supply-cut:SHARE:WEEKS[:START[:PART]], plant-stop:SHARE:WEEKS[:START] "
            "or supplier-shortage:PART:SHARE:WEEKS[:START]",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Advance weeks of production, transport, deliveries and cancellations; report promises kept."""
    from carloop.bench.allocate import run_operations

    try:
        report = run_operations(weeks=weeks, disruption=disruption, seed=seed, show=not as_json)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--disruption") from err
    _print_json(report, as_json)


def _print_json(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report))
        return
    from rich.console import Console

    Console().print_json(json.dumps(report))


# --- test-drive booking (network) ---------------------------------------------------------------


@bench_app.command("booking")
def booking(
    attempts: Annotated[int, typer.Option("--attempts", min=1, help="Booking requests to send.")] = 10_000,
    slots: Annotated[int, typer.Option("--slots", min=1, help="Test-drive slots to race for.")] = 1_000,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=1024, help="Clients at once.")] = 32,
    customers: Annotated[int, typer.Option("--customers", min=1, help="Signed-in buyers.")] = 200,
    workers: Annotated[int, typer.Option("--workers", min=1, max=8, help="Server processes.")] = 1,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="sqlite or postgresql URL; a fresh bench database is made."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the attempt order.")] = 5,
    client: Annotated[
        str,
        typer.Option(
            "--client", help="Load generator: raw (lean HTTP/1.1 on uvloop) or httpx (the first version's)."
        ),
    ] = "raw",
    route: Annotated[
        str,
        typer.Option(
            "--route",
            help="lean: the served stack (raw-ASGI booking route); fastapi: the same app without it.",
        ),
    ] = "lean",
    as_json: AsJson = False,
) -> None:
    """Race booking attempts for test-drive slots and audit for double bookings."""
    from carloop.bench import booking as bench

    if client not in ("raw", "httpx"):
        raise typer.BadParameter("--client is raw or httpx")
    if route not in bench.FACTORIES:
        raise typer.BadParameter("--route is lean or fastapi")
    report = bench.run(
        attempts=attempts,
        slots=slots,
        concurrency=concurrency,
        customers=customers,
        workers=workers,
        database_url=database_url,
        seed=seed,
        show=not as_json,
        client=client,
        route=route,
    )
    _emit("booking bench", report, as_json)


# --- scenes (ecosystem) -------------------------------------------------------------------------


@bench_app.command("events")
def events(
    nats_url: Annotated[str, typer.Option("--nats-url", help="A nats-server -js to bench against.")] = (
        "nats://127.0.0.1:4222"
    ),
    database_url: BenchDbUrl = None,
    backlog: Annotated[
        int, typer.Option("--events", min=100, help="Backlog drained from a standing start.")
    ] = 5_000,
    rate: Annotated[int, typer.Option("--rate", min=1, help="Events a second in the lag phase.")] = 200,
    seconds: Annotated[float, typer.Option("--seconds", min=1, help="Length of the lag phase.")] = 10.0,
    consumers: Annotated[int, typer.Option("--consumers", min=1, max=16, help="Durable consumers.")] = 3,
    interval: Annotated[
        float, typer.Option("--interval", min=0.001, help="The relay's idle poll (CARLOOP_OUTBOX_INTERVAL).")
    ] = 1.0,
    as_json: AsJson = False,
) -> None:
    """The JetStream bus: events/s relayed and handled, and lag p99 at a steady rate."""
    from carloop.bench.events import run_events

    report = run_events(
        nats_url=nats_url,
        database_url=database_url,
        events=backlog,
        rate=rate,
        seconds=seconds,
        consumers=consumers,
        interval=interval,
    )
    _emit("events on NATS JetStream", report, as_json)


@bench_app.command("scenes")
def scenes(
    vehicles: Annotated[
        int, typer.Option(min=1, max=20_000, help="Simulated cars (one owner and scene each).")
    ] = 1000,
    seconds: Annotated[
        int, typer.Option(min=3, max=3600, help="How long the cars publish (once a second).")
    ] = 30,
    mqtt_url: Annotated[
        str | None, typer.Option("--mqtt-url", help="Broker to use; default: start an embedded one.")
    ] = None,
    ha: Annotated[
        bool, typer.Option("--ha/--no-ha", help="Also publish each car's Home Assistant state.")
    ] = True,
    base: Annotated[int, typer.Option(help="First device id (keeps runs on a shared broker apart).")] = 1,
    bridges: Annotated[
        int, typer.Option(min=1, max=16, help="Bridge processes sharing the cars (partition leases).")
    ] = 1,
    as_json: AsJson = False,
) -> None:
    """Cars publish telemetry through the broker; p99 telemetry publish -> device command, missed scenes
    (with --bridges N, also each bridge's share of the cars, its p99 and missed)."""
    from carloop.bench.scenes import run_with_broker

    result = run_with_broker(
        mqtt_url, vehicles=vehicles, seconds=seconds, base=base, ha=ha, show=not as_json, bridges=bridges
    )
    body = result.as_json()
    if as_json:
        print(json.dumps(body))
    else:
        for key, value in body.items():
            if key != "bridges":
                typer.echo(f"{key:>14}: {value}")
        for share in body["bridges"]:
            typer.echo(f"{'bridge':>14}: " + ", ".join(f"{k} {v}" for k, v in share.items()))
    raise typer.Exit(0 if result.missed == 0 else 1)


@simulate_app.command("car")
def car(
    mqtt_url: Annotated[
        str, typer.Option("--mqtt-url", help="The broker the bridge uses.")
    ] = "mqtt://127.0.0.1:18830",
    vehicle: Annotated[str, typer.Option(help="The car's entity id, e.g. vehicle.1.")] = "vehicle.1",
    route: Annotated[
        str, typer.Option(help="office-home, home-office, delivery-home, hongqiao-people_square")
    ] = "office-home",
    speed: Annotated[float, typer.Option(help="km/h")] = 50.0,
    devices: Annotated[
        str, typer.Option(help="Comma-separated home devices to simulate too, e.g. light.2,climate.3")
    ] = "",
    seconds: Annotated[int, typer.Option(help="Stop after this many seconds (0: when the route ends).")] = 0,
    jitter: Annotated[float, typer.Option(help="GPS noise in metres.")] = 8.0,
    keepalive: Annotated[
        int,
        typer.Option(min=5, max=3600, help="MQTT keep-alive (s): a killed simulator is offline after 1.5x."),
    ] = 30,
) -> None:
    """Drive a car along a route between real Shanghai places, publishing telemetry and obeying commands."""
    from carloop.bench.car import drive

    try:
        drive(
            mqtt_url=mqtt_url,
            vehicle=vehicle,
            route=route,
            speed=speed,
            devices=devices,
            seconds=seconds,
            jitter=jitter,
            keepalive=keepalive,
            echo=typer.echo,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--route") from err


# --- analytics ----------------------------------------------------------------------------------


@bench_app.command("analytics")
def analytics(
    orders: Annotated[
        int, typer.Option("--orders", min=1, help="Orders of the simulated launch.")
    ] = 1_000_000,
    runs: Annotated[int, typer.Option("--runs", min=1, max=10_000, help="Timed dashboard renders.")] = 40,
    seed: Annotated[int, typer.Option("--seed")] = 8,
    as_json: AsJson = False,
) -> None:
    """Build a launch of ``--orders`` (about 10 events each) and time the dashboard's data."""
    from carloop.bench.analytics import run_bench

    _emit("analytics bench", run_bench(orders=orders, runs=runs, seed=seed, show=not as_json), as_json)


@simulate_app.command("campaign")
def simulate_campaign(
    registrants: Annotated[int, typer.Option("--registrants", min=1, help="Registrants.")] = 100_000,
    orders: Annotated[int, typer.Option("--orders", min=0, help="Surge reservations (0: none).")] = 20_000,
    concurrency: Concurrency = 64,
    database_url: BenchDbUrl = None,
    workers: Workers = 1,
    rate: Annotated[
        int, typer.Option("--rate", min=1, max=100_000, help="The SMS provider's rate (messages a second).")
    ] = 2000,
    dispatchers: Annotated[int, typer.Option("--dispatchers", min=1, max=8, help="Outbox dispatchers.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Registrants, a reveal, opening notices through the outbox and a surge through the intake."""
    from carloop.bench.campaign_sim import run_campaign

    report = run_campaign(
        registrants=registrants,
        orders=orders,
        concurrency=concurrency,
        database_url=database_url,
        workers=workers,
        rate=rate,
        dispatchers=dispatchers,
        show=not as_json,
    )
    _emit("simulated campaign", report, as_json)


@simulate_app.command("launch")
def simulate_launch(
    orders: Annotated[int, typer.Option("--orders", min=1, max=20_000_000)] = 300_000,
    seed: Annotated[int, typer.Option("--seed")] = 8,
    database_url: DbUrl = None,
    as_json: AsJson = False,
) -> None:
    """Fill the database with a simulated launch (funnel events) and the illustrative market sample."""
    from carloop.bench.analytics import run_simulation

    report = run_simulation(orders=orders, seed=seed, database_url=database_url, show=not as_json)
    _emit("simulated launch", report, as_json)


# --- similar suggestions (community) ------------------------------------------------------------


@bench_app.command("similar")
def similar(
    posts: Annotated[int, typer.Option("--posts", min=100, help="Suggestions on the board.")] = 100_000,
    extra_lookups: Annotated[
        int, typer.Option("--extra-lookups", min=0, help="Unlabelled lookups added to the sample.")
    ] = 940,
    database_url: BenchDbUrl = None,
    labelled: Annotated[
        Path, typer.Option("--labelled", help="JSON lines of {target, duplicate}.")
    ] = LABELLED,
    heldout: Annotated[
        list[Path] | None,
        typer.Option(
            "--heldout", help="Held-out JSON lines of {target, duplicate} (repeatable; default: all three)."
        ),
    ] = None,
    lexical_only: Annotated[
        bool, typer.Option("--lexical-only", help="No embeddings: the lexical index alone (for comparison).")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Load a board of suggestions and time top-5 similar lookups; report p95 and recall@5."""
    from carloop.bench.similar import run_similar

    try:
        report = run_similar(
            posts=posts,
            extra_lookups=extra_lookups,
            database_url=database_url,
            labelled=labelled,
            heldout=list(HELDOUT) if heldout is None else heldout,
            show=not as_json,
            semantic=not lexical_only,
        )
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--posts") from err
    _emit("similar-suggestion bench", report, as_json)
