"""Appointment use cases: free slots, book, reschedule, cancel, staff day calendars and reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal, Role
from carloop.appointments import holds, rules
from carloop.appointments.models import Appointment, AppointmentHold
from carloop.appointments.schemas import (
    AppointmentKind,
    AppointmentRead,
    AppointmentStatus,
    ServiceType,
)
from carloop.audit import service as audit
from carloop.clock import utcnow
from carloop.errors import CapacityExhausted, NotFound, PermissionDenied, PolicyViolation
from carloop.network import rules as network_rules
from carloop.network import service as network
from carloop.network.models import Store
from carloop.network.schemas import StoreService
from carloop.notices import service as notices
from carloop.ordering import buyer_notices as notice_money
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus

Need = tuple[rules.ResourceGroup, list[datetime]]

_OFFERS = {
    AppointmentKind.TEST_DRIVE: StoreService.TEST_DRIVE,
    AppointmentKind.DELIVERY: StoreService.DELIVERY,
    AppointmentKind.SERVICE: StoreService.SERVICE,
}


def _groups(store: Store, kind: AppointmentKind, model: str | None) -> list[rules.ResourceGroup]:
    if _OFFERS[kind] not in network_rules.services_of(store.kind):
        raise PolicyViolation(f"{store.code} does not offer {kind}.", store_code=store.code)
    groups = rules.resource_groups(
        kind,
        model=model,
        demo_cars=network.demo_cars_of(store, model or ""),
        delivery_bays=store.delivery_bays,
        service_bays=store.service_bays,
        technicians=store.technicians,
    )
    if any(g.count <= 0 for g in groups):
        what = f"a {model} demo car" if kind is AppointmentKind.TEST_DRIVE else f"{kind} capacity"
        raise PolicyViolation(f"{store.code} has no {what}.", store_code=store.code)
    return groups


def _held(session: Session, store_id: int, times: list[datetime]) -> set[tuple[str, datetime]]:
    rows = session.execute(
        select(AppointmentHold.resource, AppointmentHold.starts_at).where(
            AppointmentHold.store_id == store_id, AppointmentHold.starts_at.in_(times)
        )
    )
    return {(resource, at) for resource, at in rows}


def _hold(session: Session, appointment: Appointment, needs: list[Need]) -> None:
    """Hold one free unit of each needed group (``holds.hold_needs``: the unique key decides every
    race); the caller's savepoint gives back what was held when a group is full."""
    full = holds.hold_needs(session.connection(), appointment.store_id, appointment.id, needs)
    if full is None:
        return
    if full.prefix.startswith(rules.SLOT_PREFIX):
        raise CapacityExhausted(rules.ALREADY_BOOKED)
    if full.prefix.startswith(rules.BUYER_PREFIX):
        raise rules.limit_reached(full)
    if full.prefix.startswith("order:"):
        raise CapacityExhausted("This order already has a delivery appointment.")
    raise CapacityExhausted(rules.FULL)


def _needs(store: Store, appointment: Appointment) -> list[Need]:
    length = appointment.ends_at - appointment.starts_at
    times = rules.steps(appointment.starts_at, length, appointment.kind)
    needs: list[Need] = [(g, times) for g in _groups(store, appointment.kind, appointment.model)]
    if appointment.order_id is not None:
        needs.append((rules.ResourceGroup(f"order:{appointment.order_id}", 1), [rules.ORDER_MARK]))
    needs.append(rules.buyer_slot_need(appointment.customer_id, times))
    allowance = rules.buyer_need(appointment.kind, appointment.customer_id, appointment.starts_at)
    if allowance is not None:
        needs.append(allowance)
    return needs


def _checked_start(store: Store, appointment: Appointment, starts_at: datetime, now: datetime) -> datetime:
    length = rules.duration(appointment.kind, appointment.service_type)
    return rules.check_slot(
        starts_at,
        now=now,
        opens_minute=store.opens_minute,
        closes_minute=store.closes_minute,
        kind=appointment.kind,
        length=length,
    )


def book(
    *,
    session: Session,
    customer_id: int,
    kind: AppointmentKind,
    store_code: str,
    starts_at: datetime,
    model: str | None = None,
    order_number: str | None = None,
    service_type: ServiceType | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book a slot for a buyer; ``CapacityExhausted`` when it is taken, whatever the concurrency."""
    now = now or utcnow()
    store = network.get_store_by_code(session=session, code=store_code)
    appointment = Appointment(
        customer_id=customer_id,
        store_id=store.id,
        kind=kind,
        status=AppointmentStatus.BOOKED,
        model=model if kind is AppointmentKind.TEST_DRIVE else None,
        service_type=(service_type or ServiceType.MAINTENANCE) if kind is AppointmentKind.SERVICE else None,
    )
    if kind is AppointmentKind.TEST_DRIVE and not model:
        raise PolicyViolation("Choose the model to test drive.")
    _groups(store, kind, appointment.model)  # the store offers it and has the capacity at all
    if kind is AppointmentKind.DELIVERY:
        if not order_number:
            raise PolicyViolation("Give the order whose car is to be handed over.")
        order = ordering.load(session=session, number=order_number)
        if order.customer_id != customer_id:
            raise NotFound(f"No order {order_number}.")
        if order.status is not OrderStatus.AT_DELIVERY_CENTRE:
            raise PolicyViolation(
                f"Order {order.number} is {order.status}: a delivery can be booked once the car has arrived."
            )
        if order.delivery_store_id != store.id:
            raise PolicyViolation(f"Order {order.number} is handed over at its assigned delivery centre.")
        appointment.order_id, appointment.order_number = order.id, order.number
    appointment.starts_at = _checked_start(store, appointment, starts_at, now)
    appointment.ends_at = appointment.starts_at + rules.duration(kind, appointment.service_type)
    needs = _needs(store, appointment)
    held = _held(session, store.id, sorted({t for _, times in needs for t in times}))
    rules.check_free(needs, held)  # taken, or the buyer's allowance used up: refuse without writing
    with session.begin_nested():
        session.add(appointment)
        session.flush()
        _hold(session, appointment, needs)
    _tell_delivery_slot(session, appointment, store)
    return appointment


def _tell_delivery_slot(session: Session, appointment: Appointment, store: Store) -> None:
    """A car's hand-over time (booked or moved) is a notice that goes by SMS too."""
    if appointment.kind is AppointmentKind.DELIVERY:
        notice_money.delivery_slot(
            session=session,
            customer_id=appointment.customer_id,
            appointment_id=appointment.id,
            order_id=appointment.order_id,
            order_number=appointment.order_number or "",
            starts_at=appointment.starts_at,
            place=(store.name_en, store.name_zh),
        )


def may_see(principal: Principal, appointment: Appointment) -> bool:
    """Buyers see their own appointments; store staff their store's; HQ and admins all."""
    if principal.role is Role.CUSTOMER:
        return appointment.customer_id == principal.customer_id
    if principal.role is Role.STORE_STAFF:
        return principal.store_id is not None and appointment.store_id == principal.store_id
    return principal.role in (Role.HQ_OPS, Role.ADMIN)


def get_for(*, session: Session, principal: Principal, appointment_id: int) -> Appointment:
    """An appointment the principal may see; anyone else's is reported as not found."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or not may_see(principal, appointment):
        raise NotFound(f"No appointment {appointment_id}.")
    return appointment


def _require_booked(appointment: Appointment) -> None:
    if appointment.status is not AppointmentStatus.BOOKED:
        raise PolicyViolation(f"Appointment {appointment.id} is {appointment.status}.")


def reschedule(
    *,
    session: Session,
    principal: Principal,
    appointment_id: int,
    starts_at: datetime,
    now: datetime | None = None,
) -> Appointment:
    """Move a booked appointment to another slot at its store: the buyer, or staff of that store (audited).

    It keeps its old slot if the new one is taken."""
    appointment = get_for(session=session, principal=principal, appointment_id=appointment_id)
    if principal.role is not Role.CUSTOMER and not principal.is_staff:
        raise PermissionDenied("The buyer or the store's staff reschedule an appointment.")
    _require_booked(appointment)
    now = now or utcnow()
    store = network.get_store(session=session, store_id=appointment.store_id)
    new_start = _checked_start(store, appointment, starts_at, now)
    if new_start == appointment.starts_at:
        return appointment
    old_start, old_end = appointment.starts_at, appointment.ends_at
    try:
        with session.begin_nested():
            session.execute(delete(AppointmentHold).where(AppointmentHold.appointment_id == appointment.id))
            appointment.ends_at = new_start + (old_end - old_start)
            appointment.starts_at = new_start
            appointment.reminded_at = None
            session.flush()
            _hold(session, appointment, _needs(store, appointment))
    except CapacityExhausted:
        appointment.starts_at, appointment.ends_at = old_start, old_end
        raise
    _tell_delivery_slot(session, appointment, store)
    if principal.is_staff:
        audit.record(
            session=session,
            principal=principal,
            action="appointment.reschedule",
            target_type="appointment",
            target_id=appointment.id,
            detail={
                "store_id": appointment.store_id,
                "from": old_start.isoformat(),
                "to": new_start.isoformat(),
            },
        )
    return appointment


def cancel(*, session: Session, principal: Principal, appointment_id: int, reason: str = "") -> Appointment:
    """Cancel a booked appointment and free its slot; staff cancellations are audited; idempotent."""
    appointment = get_for(session=session, principal=principal, appointment_id=appointment_id)
    if appointment.status is AppointmentStatus.CANCELLED:
        return appointment
    _require_booked(appointment)
    session.execute(delete(AppointmentHold).where(AppointmentHold.appointment_id == appointment.id))
    appointment.status = AppointmentStatus.CANCELLED
    if principal.is_staff:
        audit.record(
            session=session,
            principal=principal,
            action="appointment.cancel",
            target_type="appointment",
            target_id=appointment.id,
            detail={"reason": reason[:200], "store_id": appointment.store_id},
        )
    session.flush()
    return appointment


def complete(*, session: Session, appointment: Appointment) -> Appointment:
    """Mark a booked appointment as done (its slot stays held: it happened)."""
    if appointment.status is AppointmentStatus.BOOKED:
        appointment.status = AppointmentStatus.DONE
        session.flush()
    return appointment


def delivery_for_order(*, session: Session, order_id: int) -> Appointment | None:
    """The booked (or done) delivery appointment of an order, if any."""
    return session.scalar(
        select(Appointment)
        .where(
            Appointment.order_id == order_id,
            Appointment.kind == AppointmentKind.DELIVERY,
            Appointment.status != AppointmentStatus.CANCELLED,
        )
        .order_by(Appointment.id.desc())
    )


def list_for_customer(*, session: Session, customer_id: int) -> list[Appointment]:
    """A buyer's appointments, soonest first."""
    return list(
        session.scalars(
            select(Appointment).where(Appointment.customer_id == customer_id).order_by(Appointment.starts_at)
        )
    )


def available_slots(
    *,
    session: Session,
    store_code: str,
    kind: AppointmentKind,
    day: date,
    model: str | None = None,
    service_type: ServiceType | None = None,
    now: datetime | None = None,
) -> list[tuple[datetime, datetime, int]]:
    """A store's slots on a local day for one kind of appointment: (start, end, free units)."""
    now = now or utcnow()
    store = network.get_store_by_code(session=session, code=store_code)
    groups = _groups(store, kind, model)
    length = rules.duration(kind, service_type if kind is AppointmentKind.SERVICE else None)
    starts = rules.slot_starts(
        day, opens_minute=store.opens_minute, closes_minute=store.closes_minute, kind=kind, length=length
    )
    every_step = sorted({t for s in starts for t in rules.steps(s, length, kind)})
    held = _held(session, store.id, every_step)
    horizon = now + timedelta(days=rules.HORIZON_DAYS)
    return [
        (s, s + length, rules.free_units(groups, held, rules.steps(s, length, kind)))
        for s in starts
        if now < s <= horizon
    ]


def day_calendar(*, session: Session, principal: Principal, store_code: str, day: date) -> list[Appointment]:
    """A store's booked and done appointments on a local day: its own staff, HQ and admins only."""
    store = network.get_store_by_code(session=session, code=store_code)
    if principal.role is Role.STORE_STAFF and principal.store_id != store.id:
        raise PermissionDenied("Staff see the calendar of their own store only.")
    if principal.role not in (Role.STORE_STAFF, Role.HQ_OPS, Role.ADMIN):
        raise PermissionDenied("This is for staff.")
    start = datetime.combine(day, time(0), rules.STORE_TZ).astimezone(UTC)
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.store_id == store.id,
                Appointment.starts_at >= start,
                Appointment.starts_at < start + timedelta(days=1),
                Appointment.status != AppointmentStatus.CANCELLED,
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )


def queue_reminders(*, session: Session, now: datetime | None = None) -> int:
    """Queue a reminder notice for each booked appointment starting within a day; each is reminded once."""
    now = now or utcnow()
    due = session.scalars(
        select(Appointment)
        .where(
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.reminded_at.is_(None),
            Appointment.starts_at > now,
            Appointment.starts_at <= now + rules.REMIND_BEFORE,
        )
        .order_by(Appointment.id)
    ).all()
    queued = 0
    for appointment in due:
        claimed = session.execute(
            update(Appointment)
            .where(Appointment.id == appointment.id, Appointment.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue
        store = network.get_store(session=session, store_id=appointment.store_id)
        local = appointment.starts_at.astimezone(rules.STORE_TZ).strftime("%Y-%m-%d %H:%M")
        notices.notify(
            session=session,
            customer_id=appointment.customer_id,
            kind="reminder",
            key=f"network:reminder:{appointment.id}:{appointment.starts_at:%Y%m%d%H%M}",
            source="appointments",
            subject=(
                f"Reminder: {rules.KIND_EN[appointment.kind]} at {store.name_en}, {local}",
                f"提醒：{local}在{store.name_zh}{rules.KIND_ZH[appointment.kind]}",
            ),
            body=(
                f"Address: {network_rules.address_in(store.address, 'en')}",
                f"地址：{network_rules.address_in(store.address, 'zh_CN')}",
            ),
            order_id=appointment.order_id,
            order_number=appointment.order_number or "",
        )
        queued += 1
    return queued


def read(session: Session, appointment: Appointment) -> AppointmentRead:
    """The API shape of an appointment."""
    store = network.get_store(session=session, store_id=appointment.store_id)
    return AppointmentRead(
        id=appointment.id,
        kind=appointment.kind,
        status=appointment.status,
        store_code=store.code,
        store_name_en=store.name_en,
        store_name_zh=store.name_zh,
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        model=appointment.model,
        order_number=appointment.order_number,
        service_type=appointment.service_type,
    )
