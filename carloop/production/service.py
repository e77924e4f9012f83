"""Production use cases: the versioned plan, allocation runs, promises and notices, quotes, tracking."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carloop.clock import SHANGHAI, utcnow
from carloop.errors import Conflict, InvalidTransition, NotFound
from carloop.messages import translate_message
from carloop.notices import service as notices
from carloop.notices.models import Notice
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.production import calibration, rules, triggers
from carloop.production.allocation import Allocation
from carloop.production.models import PlanVersion, PromiseChange, Run, Slot, VinSerial
from carloop.production.schemas import PlanData
from carloop.production.triggers import Trigger

WAITING = (OrderStatus.LOCKED, OrderStatus.SCHEDULED)
CHANGED_AFTER_LOCK = "configuration changed after locking"  # the reason of a requeued order's move
# What a buyer whose window moved is told when no outage explains it. A run's trigger is for staff: it
# names another buyer's order or a supplier, which a buyer must never see.
PLAN_CHANGED = "the production plan changed"
QUEUE_CHANGED = "an order ahead in the queue changed"


def today(now: datetime | None = None) -> date:
    """The business day (Asia/Shanghai) of ``now``."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


# -- the plan ------------------------------------------------------------------------------------


NO_PLAN = "No delivery estimate is available yet: the production plan has not been published."


def plan_in_force(*, session: Session) -> tuple[int, PlanData] | None:
    """The plan HQ saved last and its version; None until HQ saves one (no plan, no ETA)."""
    row = session.scalar(select(PlanVersion).order_by(PlanVersion.version.desc()).limit(1))
    return None if row is None else (row.version, PlanData.model_validate(row.data))


def current_plan(*, session: Session, now: datetime | None = None) -> tuple[int, PlanData]:
    """The plan in force and its version; a Conflict until HQ has saved one."""
    found = plan_in_force(session=session)
    if found is None:
        raise Conflict(NO_PLAN)
    return found


def plan_history(*, session: Session, limit: int = 20) -> list[PlanVersion]:
    """The latest plan versions, newest first."""
    query = select(PlanVersion).order_by(PlanVersion.version.desc()).limit(limit)
    return list(session.scalars(query))


def save_plan(
    *,
    session: Session,
    plan: PlanData,
    reason: str,
    actor: str,
    now: datetime | None = None,
    told: str = PLAN_CHANGED,
    cause: Trigger | None = None,
) -> Run:
    """Store a new plan version and re-plan every waiting order against it.

    ``reason`` is HQ's (staff see it with the run, unless ``cause`` says what changed the plan: a
    supplier's confirmations); ``told`` is what buyers whose window moved read.
    """
    found = plan_in_force(session=session)
    version = found[0] if found is not None else 0
    session.add(
        PlanVersion(version=version + 1, data=plan.model_dump(mode="json"), reason=reason, actor=actor)
    )
    session.flush()
    cause = cause or triggers.plan_saved(reason)
    trigger = Trigger(cause.kind, {**cause.params, "version": version + 1})
    return replan(session=session, trigger=trigger, now=now, told=told)


# -- allocation runs -----------------------------------------------------------------------------


@dataclass
class _Book:
    plan_version: int
    plan: PlanData
    week0: int
    found: list[rules.Constraint]
    signatures: list[tuple[int, ...]]
    alloc: Allocation
    rates: rules.KeptRates  # how often past windows of each kind were kept


def _book(session: Session, slots: list[Slot], now: datetime | None) -> _Book:
    version, plan = current_plan(session=session, now=now)
    week0 = rules.week_of(today(now))
    found = rules.constraints(plan)
    horizon = plan.horizon_weeks
    index: dict[tuple[int, ...], int] = {}
    sig_of = []
    for slot in slots:
        sig = rules.signature(found, slot.model, slot.trim, slot.options)
        sig_of.append(index.setdefault(sig, len(index)))
        slot.signature = ",".join(found[i].code for i in sig)
    signatures = list(index)
    order = sorted(range(len(slots)), key=lambda i: (slots[i].queued_at, slots[i].order_id))
    rank = np.empty(len(slots), dtype=np.int64)
    rank[order] = np.arange(len(slots))
    weeks = [
        horizon if s.planned_week is None else min(max(s.planned_week - week0, 0), horizon) for s in slots
    ]
    alloc = Allocation(
        rules.usage_matrix(found, signatures) if signatures else np.zeros((len(found), 0), dtype=bool),
        rules.capacity_matrix(plan, week0, horizon),
        np.array([s.order_id for s in slots], dtype=np.int64),
        np.array(sig_of, dtype=np.int64),
        rank,
        np.array(weeks, dtype=np.int64),
        frozen=plan.frozen_weeks,
    )
    return _Book(version, plan, week0, found, signatures, alloc, calibration.rates(session=session))


def replan(
    *,
    session: Session,
    trigger: Trigger,
    now: datetime | None = None,
    told: str = QUEUE_CHANGED,
    cancelled_order_id: int | None = None,
    requeued_order_id: int | None = None,
) -> Run:
    """Re-plan every waiting order: place new locks, fill freed slots, apply capacity changes.

    Orders only move later when capacity or supply is cut; each move is recorded with the reason a
    buyer may read (an outage's, else ``told``; the run's ``trigger`` is for staff) and the buyer gets
    a notice. New orders get their first promised window and a notice.
    A requeued order (its configuration changed after lock) gives its week up like a cancellation
    and is placed again at the back of its new configuration's queue, as a new lock would be.
    """
    started = time.perf_counter()
    found = plan_in_force(session=session)
    if found is None:  # no plan, no promises: locked orders wait in their queues for the first plan
        if cancelled_order_id is not None:
            session.execute(update(Slot).where(Slot.order_id == cancelled_order_id).values(active=False))
        run = Run(trigger_kind=trigger.kind, trigger_params=trigger.params, plan_version=0, orders=0)
        session.add(run)
        session.flush()
        return run
    slots = list(
        session.scalars(
            select(Slot)
            .where(Slot.active.is_(True), Slot.built.is_(False))
            .order_by(Slot.queued_at, Slot.order_id)
            .with_for_update()
        )
    )
    if cancelled_order_id is not None:
        gone = session.scalar(select(Slot).where(Slot.order_id == cancelled_order_id))
        if gone is not None and not gone.built and gone not in slots:
            slots.append(gone)
    placed = [s for s in slots if s.promised_at is not None]  # planned before (maybe beyond the horizon)
    fresh = [s for s in slots if s.promised_at is None and s.order_id != cancelled_order_id]
    moved = [s for s in placed if s.order_id == requeued_order_id]
    placed = [s for s in placed if s.order_id != requeued_order_id]
    book = _book(session, placed + moved + fresh, now)
    alloc = book.alloc
    # The fresh orders were given a placeholder week; take them out and place them in lock order.
    for slot in moved + fresh:
        alloc.alive[alloc.ids == slot.order_id] = False
    alloc.load = alloc._load()
    # Where the stored plan holds more than the new capacity allows, that capacity was cut.
    alloc.capacity = np.maximum(alloc.capacity, alloc.load[:, : alloc.horizon])
    if cancelled_order_id is not None:
        alloc.cancel(cancelled_order_id)
    alloc.recapacitate(rules.capacity_matrix(book.plan, book.week0, book.plan.horizon_weeks))
    alloc.fill()  # weeks that came into the horizon, or still have room, take waiting orders that fit
    for slot in moved + fresh:
        row = int(np.flatnonzero(alloc.ids == slot.order_id)[0])
        alloc.place(slot.order_id, int(alloc.sig[row]), int(alloc.rank[row]))
    weeks = alloc.weeks()
    run = Run(
        trigger_kind=trigger.kind,
        trigger_params=trigger.params,
        plan_version=book.plan_version,
        orders=len(weeks),
    )
    session.add(run)
    session.flush()
    for slot in placed + moved + fresh:
        if slot.order_id == cancelled_order_id:
            slot.active = False
            slot.planned_week = None
            continue
        rel = weeks[slot.order_id]
        week = None if rel >= book.plan.horizon_weeks else book.week0 + rel
        _promise(session, slot, week, book, run, now, told, requeued=slot in moved)
    run.millis = round((time.perf_counter() - started) * 1000, 2)
    session.flush()
    return run


def _promise(
    session: Session,
    slot: Slot,
    week: int | None,
    book: _Book,
    run: Run,
    now: datetime | None,
    told: str,
    *,
    requeued: bool = False,
) -> None:
    window = rules.delivery_window(
        week,
        current_week=book.week0,
        lead=book.plan.lead,
        today=today(now),
        model=slot.model,
        rates=book.rates,
    )
    old_week, old_latest = slot.promised_week, slot.promised_latest
    was_planned = slot.planned_week is not None
    slot.planned_week = week
    if slot.promised_at is None:
        _set_promise(slot, window)
        slot.promised_at = now or utcnow()
        slot.first_earliest, slot.first_latest, slot.stated = (
            window.earliest,
            window.latest,
            window.confidence,
        )
        notify(session, slot, "window", _window_text(window))
        _schedule(session, slot, week)
        return
    week_scheduled = None if was_planned else week
    later = _later(window.latest, old_latest)
    earlier = not later and window.latest is not None and (old_latest is None or window.latest < old_latest)
    if later or earlier:
        reason = CHANGED_AFTER_LOCK if requeued else told
        if later and old_week is not None and not requeued:
            reason = rules.cut_reason(book.plan, book.week0, old_week, fallback=told)
        session.add(
            PromiseChange(
                order_id=slot.order_id,
                from_week=old_week,
                to_week=week,
                from_latest=old_latest,
                to_latest=window.latest,
                later=later,
                reason=reason[:300],
                run_id=run.id,
            )
        )
        if later:
            run.moved_later += 1
        else:
            run.moved_earlier += 1
        _set_promise(slot, window)
        kind = "window_later" if later else "window_earlier"
        text_en, text_zh = _window_text(window)
        if requeued:
            text_en = f"Your configuration change was applied. {text_en}"
            text_zh = f"您的配置变更已生效。{text_zh}"
        elif later:
            reason_zh = translate_message("zh_CN", reason)  # the catalogs' words for it, as the page shows
            text_en, text_zh = f"{text_en} Reason: {reason}.", f"{text_zh} 原因：{reason_zh}。"
        notify(session, slot, kind, (text_en, text_zh), window)
    _schedule(session, slot, week_scheduled)


def _later(new: date | None, old: date | None) -> bool:
    if old is None:
        return False
    return new is None or new > old


def _set_promise(slot: Slot, window: rules.Window) -> None:
    slot.promised_week = window.build_week
    slot.promised_earliest, slot.promised_latest = window.earliest, window.latest


def _schedule(session: Session, slot: Slot, week: int | None) -> None:
    if week is None:
        return
    order = session.get(Order, slot.order_id)
    if order is not None and order.status is OrderStatus.LOCKED:
        ordering.advance(
            session=session,
            order=order,
            target=OrderStatus.SCHEDULED,
            actor="system:production",
            reason="given a build week by the production plan",
            build_week=rules.week_start(week).isoformat(),
        )


def _window_text(window: rules.Window) -> tuple[str, str]:
    if window.earliest is None or window.latest is None:
        return (
            "Your car is beyond the current production plan; we will tell you its window once it is planned.",
            "您的车辆超出当前生产计划范围，排产后我们会第一时间告知交付时间窗。",
        )
    return (
        f"Expected delivery between {window.earliest:%Y-%m-%d} and {window.latest:%Y-%m-%d}.",
        f"预计交付时间：{window.earliest:%Y-%m-%d} 至 {window.latest:%Y-%m-%d}。",
    )


def notify(
    session: Session, slot: Slot, kind: str, text: tuple[str, str], window: rules.Window | None = None
) -> Notice:
    """Leave a delivery notice for the buyer of a slot's order (the notices domain sends it on)."""
    count = session.query(Notice).filter_by(source="production", order_id=slot.order_id, kind=kind).count()
    dates = "待定"  # the SMS template's date: the new window, or "to be decided"
    if window is not None and window.earliest is not None and window.latest is not None:
        dates = f"{window.earliest:%Y-%m-%d}至{window.latest:%Y-%m-%d}"
    return notices.notify(
        session=session,
        customer_id=slot.customer_id,
        kind=kind,
        key=f"production:{slot.order_id}:{kind}:{count + 1}",
        source="production",
        body=(text[0][:400], text[1][:400]),
        order_id=slot.order_id,
        order_number=slot.number,
        sms_params={"order": slot.number, "date": dates},
    )


# -- reactions to orders -------------------------------------------------------------------------


def enqueue(*, session: Session, number: str, now: datetime | None = None) -> Slot | None:
    """Put a locked order in its configuration's queue and re-plan (doing it twice changes nothing)."""
    order = ordering.load(session=session, number=number)
    if order.status not in WAITING:
        return None
    slot = session.scalar(select(Slot).where(Slot.order_id == order.id))
    if slot is not None:
        return slot
    slot = Slot(
        order_id=order.id,
        number=order.number,
        customer_id=order.customer_id,
        model=order.model,
        trim=order.trim,
        options=list(order.options),
        configuration=rules.configuration_key(order.model, order.trim, order.options),
        queued_at=order.locked_at or utcnow(),
    )
    session.add(slot)
    session.flush()
    replan(session=session, trigger=triggers.order_locked(order.number), now=now)
    return slot


def release(*, session: Session, order_id: int, now: datetime | None = None) -> Run | None:
    """Take a cancelled order out of the plan and give its slot to the next order that fits."""
    slot = session.scalar(select(Slot).where(Slot.order_id == order_id))
    if slot is None or not slot.active:
        return None
    if slot.built:
        slot.active = False  # the car exists: events.py hands it to the inventory
        return None
    return replan(
        session=session, trigger=triggers.order_cancelled(slot.number), now=now, cancelled_order_id=order_id
    )


# -- quotes and tracking -------------------------------------------------------------------------


def slot_for(*, session: Session, order_id: int) -> Slot | None:
    """The production slot of an order, if it was ever locked."""
    return session.scalar(select(Slot).where(Slot.order_id == order_id))


def promise_changes(*, session: Session, order_id: int) -> list[PromiseChange]:
    """Every move of an order's promised window, oldest first."""
    query = select(PromiseChange).where(PromiseChange.order_id == order_id).order_by(PromiseChange.id)
    return list(session.scalars(query))


def notices_for(*, session: Session, customer_id: int, limit: int = 50) -> list[Notice]:
    """A buyer's delivery notices, newest first."""
    return notices.inbox(session=session, customer_id=customer_id, source="production", limit=limit)


def runs(*, session: Session, limit: int = 20) -> list[Run]:
    """The latest allocation runs, newest first."""
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))


def moved_orders(*, session: Session, limit: int = 50) -> list[PromiseChange]:
    """The latest promise moves, later ones and earlier ones, newest first."""
    return list(session.scalars(select(PromiseChange).order_by(PromiseChange.id.desc()).limit(limit)))


# -- stages and VINs -----------------------------------------------------------------------------


def next_vin(*, session: Session, plan: PlanData, model: str, trim: str, model_year: int) -> str:
    """A new, unique VIN for a car built now (the serial grows by one conditional UPDATE)."""
    prefix = f"{plan.wmi}{rules.model_year_code(model_year)}{plan.plant_code}"
    if session.get(VinSerial, prefix) is None:
        session.add(VinSerial(prefix=prefix, last=0))
        session.flush()
    serial = session.scalar(
        update(VinSerial)
        .where(VinSerial.prefix == prefix)
        .values(last=VinSerial.last + 1)
        .returning(VinSerial.last)
    )
    assert serial is not None
    return rules.make_vin(
        wmi=plan.wmi,
        descriptor=rules.vin_descriptor(model, trim),
        model_year=model_year,
        plant_code=plan.plant_code,
        serial=int(serial),
    )


def advance_stage(
    *, session: Session, number: str, stage: rules.Stage, actor: str, now: datetime | None = None
) -> Order:
    """Move an allocated order to a later tracking stage; building it assigns its VIN."""
    order = ordering.load(session=session, number=number, for_update=True)
    slot = slot_for(session=session, order_id=order.id)
    if slot is None or not slot.active:
        raise NotFound(f"Order {number} is not in the production plan.")
    target = OrderStatus(str(stage))
    if order.status is target:
        return order
    if order.status is OrderStatus.LOCKED:
        raise InvalidTransition(f"Order {number} has no build week yet.")
    data: dict[str, str] = {}
    if target is OrderStatus.BUILT:
        _, plan = current_plan(session=session, now=now)
        slot.vin = slot.vin or next_vin(
            session=session, plan=plan, model=order.model, trim=order.trim, model_year=today(now).year + 1
        )
        slot.built = True
        data["vin"] = slot.vin
        notify(
            session,
            slot,
            "built",
            (f"Your car was built. VIN {slot.vin}.", f"您的车辆已下线，车架号 {slot.vin}。"),
        )
    if target is OrderStatus.DELIVERED:
        data["vin"] = slot.vin or ""
    ordering.advance(
        session=session, order=order, target=target, actor=actor, reason=f"production: {stage}", **data
    )
    return order


# -- for the supply side -------------------------------------------------------------------------


def planned_cars(
    *, session: Session, first_week: int, last_week: int
) -> list[tuple[str, str, list[str], int]]:
    """Model, trim, options and build week of each waiting car planned in ``first_week``..``last_week``."""
    query = select(Slot.model, Slot.trim, Slot.options, Slot.planned_week).where(
        Slot.active.is_(True),
        Slot.built.is_(False),
        Slot.planned_week >= first_week,
        Slot.planned_week <= last_week,
    )
    return [(m, t, list(o or []), int(w or 0)) for m, t, o, w in session.execute(query)]


def moves_of_runs(*, session: Session, run_ids: list[int]) -> list[tuple[str, PromiseChange]]:
    """The promise moves made by these allocation runs, with each order's number, oldest first."""
    if not run_ids:
        return []
    query = (
        select(Slot.number, PromiseChange)
        .join(Slot, Slot.order_id == PromiseChange.order_id)
        .where(PromiseChange.run_id.in_(run_ids))
        .order_by(PromiseChange.id)
    )
    return [(number, change) for number, change in session.execute(query)]
