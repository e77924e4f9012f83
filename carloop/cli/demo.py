"""Demo data: accounts, and orders in every deposit state, made through the real use cases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID, TimeElapsedColumn
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.accounts.demo import seed_demo_accounts
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.ordering import rules
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.settings import Settings
from carloop.supply import demo as supply_demo

DEMO_BASE_URL = "http://127.0.0.1:8000/"
SECOND_BUYER = "13900139000"
OWNER_VIN = "LDEMO7YU700000002"


def production_traces(session: Session | None, environment: str | None) -> list[str]:
    """Why this database (or this environment) looks like production; empty when a demo is safe.

    The demo creates staff logins whose passwords are printed in the README and orders "paid" through
    the simulator: in a production database those would be a back door and fake money.
    """
    from carloop.accounts.demo import DEMO_STAFF
    from carloop.accounts.models import Staff
    from carloop.payments.models import Payment
    from carloop.supply.demo import DEMO_SUPPLIERS

    reasons = []
    if environment == "production":
        reasons.append("CARLOOP_ENVIRONMENT is production")
    if session is None:
        return reasons
    online = Payment.provider.not_in(("simulator", "store"))  # the demo pays by simulator and at its POS
    real = session.scalar(select(Payment.provider).where(online).limit(1))
    if real is not None:
        reasons.append(f"the database holds payments through a real provider ({real})")
    demo_names = [username for username, *_ in DEMO_STAFF] + [user for *_, user in DEMO_SUPPLIERS.values()]
    staff = session.scalar(select(Staff.username).where(Staff.username.not_in(demo_names)).limit(1))
    if staff is not None:
        reasons.append(f"the database has staff accounts that are not the demo's ({staff!r})")
    return reasons


def remove_sqlite_database(url: str) -> str | None:
    """Delete the SQLite file behind ``url`` and its WAL files; its path, or None for a server database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    return str(path)


def _paid_order(
    session: Session, provider: SimulatorProvider, customer_id: int, config: ConfigurationIn
) -> Order:
    order = ordering.reserve(session=session, customer_id=customer_id, config=config)
    payment = ordering.start_deposit_payment(
        session=session, provider=provider, order=order, base_url=DEMO_BASE_URL
    )
    form = provider.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    ordering.handle_notification(session=session, provider=provider, form=form)
    return order


def seed(
    factory: sessionmaker[Session], settings: Settings, console: Console, *, launch_orders: int = 200_000
) -> list[tuple[str, str, str]]:
    """Load demo accounts and activity once; returns (who, sign in with, secret) rows to print."""
    provider = SimulatorProvider.from_settings(settings)
    with Progress(*Progress.get_default_columns(), TimeElapsedColumn(), console=console) as progress:
        steps = progress.add_task("demo accounts", total=len(STEPS))
        logins = _seed(factory, settings, provider, console, progress, steps, launch_orders)
    rows = [(login.who, login.username, login.secret) for login in logins]
    rows.append(("second demo buyer (an owner)", SECOND_BUYER, "one-time code shown on the sign-in page"))
    return rows


# What the progress bar says while each step runs, in order.
STEPS = (
    "demo accounts",
    "demo orders through the simulator",
    "store network, production plan, shop, board",
    "simulated launch for the dashboards",
    "domain events (points, the owner's car as a device)",
    "the owner's home devices and scenes",
)


def _seed(
    factory: sessionmaker[Session],
    settings: Settings,
    provider: SimulatorProvider,
    console: Console,
    progress: Progress,
    steps: TaskID,
    launch_orders: int,
) -> list[Any]:
    def step(done: str) -> None:
        progress.advance(steps)
        following = STEPS.index(done) + 1
        progress.update(steps, description=STEPS[following] if following < len(STEPS) else "done")

    with factory.begin() as session:
        logins = [*seed_demo_accounts(session=session), *supply_demo.seed_demo(session=session)]
        step(STEPS[0])
        buyer = accounts.get_or_create_customer(session=session, phone="13800138000")
        other = accounts.get_or_create_customer(session=session, phone=SECOND_BUYER)
        if session.scalar(select(Order.id).limit(1)) is None:
            _paid_order(session, provider, buyer.id, ConfigurationIn(model="su7", trim="pro"))
            locked = _paid_order(session, provider, buyer.id, ConfigurationIn(model="yu7", trim="max"))
            ordering.lock(
                session=session,
                order=locked,
                confirmation=rules.LockConfirmation(
                    True, locked.deposit_fen, ordering.configuration_summary(locked)
                ),
                actor=f"customer:{buyer.id}",
            )
            refunded = _paid_order(session, provider, other.id, ConfigurationIn(model="su7", trim="standard"))
            ordering.refund_deposit(
                session=session, provider=provider, order=refunded, actor=f"customer:{other.id}"
            )
            forfeited = _paid_order(session, provider, other.id, ConfigurationIn(model="yu7", trim="pro"))
            ordering.settle_if_due(
                session=session, order=forfeited, now=utcnow() + timedelta(hours=forfeited.refundable_hours)
            )
            ordering.cancel(
                session=session,
                provider=provider,
                order=forfeited,
                actor=f"customer:{other.id}",
                accept_forfeit=True,
            )
            ordering.reserve(
                session=session, customer_id=other.id, config=ConfigurationIn(model="su7", trim="max")
            )
        step(STEPS[1])
        _seed_domains(session, settings, provider, progress, buyer.id, other.id, launch_orders)
        step(STEPS[2])
        step(STEPS[3])
    _dispatch_events(factory, console)  # the delivered car becomes the owner's vehicle device here
    step(STEPS[4])
    from carloop.ecosystem import demo as ecosystem_demo

    with factory.begin() as session:
        owner = accounts.get_or_create_customer(session=session, phone=SECOND_BUYER)
        ecosystem_demo.seed_demo(session=session, customer_id=owner.id)
    step(STEPS[5])
    return list(logins)


def _seed_domains(
    session: Session,
    settings: Settings,
    provider: SimulatorProvider,
    progress: Progress,
    buyer_id: int,
    owner_id: int,
    launch_orders: int,
) -> None:
    """Stores, cars at a centre and delivered, the plan, shop, board, devices, a launch curve."""
    from carloop.bench import launch_data
    from carloop.community import demo as community_demo
    from carloop.loyalty import demo as loyalty_demo
    from carloop.network import demo as network_demo
    from carloop.production import demo as production_demo

    network_demo.seed_demo(session=session, provider=provider, customer_id=buyer_id)
    _delivered_car(session, provider, owner_id)
    production_demo.seed_demo(session=session)
    loyalty_demo.seed_demo(session=session)
    community_demo.seed_demo(session=session, author_ids=[buyer_id, owner_id])
    from carloop.analytics.models import FunnelEvent

    already_simulated = session.scalar(select(FunnelEvent.id).where(FunnelEvent.simulated.is_(True)).limit(1))
    if launch_orders > 0 and already_simulated is None:
        task = progress.add_task("  simulated launch orders", total=launch_orders)
        launch_data.seed_demo(
            session=session,
            settings=settings,
            orders=launch_orders,
            progress=lambda done: progress.update(task, completed=done),
        )


def _delivered_car(session: Session, provider: SimulatorProvider, owner_id: int) -> None:
    """Once: an order of ``owner_id`` built, shipped, paid in full at the store and handed over."""
    from carloop.accounts.schemas import Principal, Role
    from carloop.network import demo as network_demo
    from carloop.network import handover
    from carloop.network import service as network

    if any(
        o.status is OrderStatus.DELIVERED
        for o in ordering.list_for_customer(session=session, customer_id=owner_id)
    ):
        return
    order = _paid_order(session, provider, owner_id, ConfigurationIn(model="yu7", trim="pro"))
    network.assign_delivery_centre(session=session, order=order, city="Shanghai", actor="system")
    for status in network_demo.JOURNEY:
        extra = {"vin": OWNER_VIN} if status is OrderStatus.BUILT else {}
        ordering.advance(session=session, order=order, target=status, actor="system", reason="demo", **extra)
    staff = Principal(
        role=Role.STORE_STAFF, staff_id=0, store_id=order.delivery_store_id, display_name="demo"
    )
    due = handover.balance(session=session, order=order).due_fen
    handover.record_store_payment(
        session=session, principal=staff, number=order.number, amount_fen=due, reference=f"POS-{order.number}"
    )
    handover.hand_over(
        session=session,
        principal=staff,
        number=order.number,
        vin=OWNER_VIN,
        inspection_passed=True,
        documents_signed=True,
    )


def _dispatch_events(factory: sessionmaker[Session], console: Console) -> None:
    """React to what the seeding did (points for the delivery, the car as a device, the funnel...)."""
    from carloop.handlers import all_handlers
    from carloop.outbox.service import dispatch

    handlers = all_handlers()
    total = 0
    while handled := dispatch(factory, handlers, limit=500):
        total += handled
    console.print(f"{total} domain events handled")
