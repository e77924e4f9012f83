"""Delivery estimates and tracking, read side: a configuration's ETA quote, an order's window and
stages, and the preview of a post-lock reconfiguration. The allocation that makes the promises is in
``service.py``; the window arithmetic in ``rules.py``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn, Quote
from carloop.clock import utcnow
from carloop.errors import DomainError, PolicyViolation
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.production import calibration, rules
from carloop.production.allocation import earliest_week
from carloop.production.models import Slot
from carloop.production.schemas import (
    EtaQuote,
    PromiseChangeRead,
    ReconfigurePreview,
    StageRead,
    TrackingRead,
    WindowRead,
)
from carloop.production.service import (
    WAITING,
    current_plan,
    plan_in_force,
    promise_changes,
    slot_for,
    today,
)


def window_read(window: rules.Window, *, on: date) -> WindowRead:
    """A window for the API and pages, with weeks counted from ``on``."""
    if window.earliest is None or window.latest is None or window.build_week is None:
        return WindowRead(
            build_week_start=None,
            earliest=None,
            latest=None,
            weeks_min=None,
            weeks_max=None,
            confidence=window.confidence,
            sample=window.sample,
            beyond_horizon=True,
        )
    return WindowRead(
        build_week_start=rules.week_start(window.build_week),
        earliest=window.earliest,
        latest=window.latest,
        weeks_min=rules.weeks_from(window.earliest, on, up=False),
        weeks_max=rules.weeks_from(window.latest, on, up=True),
        confidence=window.confidence,
        sample=window.sample,
    )


def eta(
    *,
    session: Session,
    config: ConfigurationIn,
    now: datetime | None = None,
    without_order_id: int | None = None,
) -> EtaQuote:
    """The delivery window a configuration would get if it were ordered and locked now (with the
    order ``without_order_id`` taken out of the plan first: the one whose configuration changes)."""
    priced = catalog.quote(config=config)
    version, plan = current_plan(session=session, now=now)
    week0 = rules.week_of(today(now))
    found = rules.constraints(plan)
    sig = rules.signature(found, priced.model, priced.trim, priced.options)
    horizon = plan.horizon_weeks
    capacity = rules.capacity_matrix(plan, week0, horizon)
    load = np.zeros_like(capacity)
    code_index = {c.code: i for i, c in enumerate(found)}
    rows = session.execute(
        select(Slot.signature, Slot.planned_week, func.count())
        .where(Slot.active.is_(True), Slot.built.is_(False), Slot.planned_week.is_not(None))
        .where(Slot.order_id != (without_order_id or 0))
        .group_by(Slot.signature, Slot.planned_week)
    )
    key = ",".join(found[i].code for i in sig)
    floor = 0
    for signature, week, count in rows:
        rel = int(week or 0) - week0
        if not 0 <= rel < horizon:
            continue
        for code in filter(None, str(signature).split(",")):
            if code in code_index:
                load[code_index[code], rel] += int(count)
        if signature == key:
            floor = max(floor, rel)
    room = capacity - load
    uses = np.zeros(len(found), dtype=bool)
    uses[list(sig)] = True
    rel_week = earliest_week(uses, room, floor, plan.frozen_weeks)
    week = None if rel_week >= horizon else week0 + rel_week
    configuration = rules.configuration_key(priced.model, priced.trim, priced.options)
    ahead = session.scalar(
        select(func.count())
        .select_from(Slot)
        .where(Slot.active.is_(True), Slot.built.is_(False), Slot.configuration == configuration)
        .where(Slot.order_id != (without_order_id or 0))
    )
    window = rules.delivery_window(
        week,
        current_week=week0,
        lead=plan.lead,
        today=today(now),
        model=priced.model,
        rates=calibration.rates(session=session),
    )
    return EtaQuote(
        model=priced.model,
        trim=priced.trim,
        options=list(priced.options),
        configuration=configuration,
        queue_ahead=int(ahead or 0),
        window=window_read(window, on=today(now)),
        plan_version=version,
    )


def tracking(*, session: Session, order: Order, now: datetime | None = None) -> TrackingRead:
    """An order's window (current and first promised), its stages with timestamps, VIN and moves."""
    slot = slot_for(session=session, order_id=order.id)
    on = today(now)
    reached: dict[str, datetime] = {}
    for event in order.events:
        reached.setdefault(event.to_status, event.at)
    stages = [StageRead(stage=str(stage), at=reached.get(str(stage))) for stage in rules.STAGES]
    window = first = None
    if slot is not None and slot.promised_at is not None:
        rates = calibration.rates(session=session)
        window = _stored_window(
            slot.promised_week, slot.promised_earliest, slot.promised_latest, slot.model, rates, on
        )
        first = _stored_window(None, slot.first_earliest, slot.first_latest, slot.model, rates, on)
    changes = [
        PromiseChangeRead(
            at=c.at, from_latest=c.from_latest, to_latest=c.to_latest, reason=c.reason, later=c.later
        )
        for c in promise_changes(session=session, order_id=order.id)
    ]
    return TrackingRead(
        number=order.number,
        status=str(order.status),
        window=window,
        first_window=first,
        vin=slot.vin if slot is not None else None,
        stages=stages,
        changes=changes,
        plan_published=plan_in_force(session=session) is not None,
    )


def _stored_window(
    week: int | None,
    earliest: date | None,
    latest: date | None,
    model: str,
    rates: rules.KeptRates,
    on: date,
) -> WindowRead:
    """A promised window as of ``on``, with today's measured record of windows of its kind."""
    if earliest is None or latest is None:
        return window_read(rules.Window(None, None, None, None), on=on)
    build = week if week is not None else rules.week_of(earliest)
    record = rules.stated(rates, model, rules.weeks_from(latest, on, up=True))
    return window_read(rules.Window(build, earliest, latest, record.share, record.total), on=on)


RECONFIGURE_HOURS = 24


def reconfigure_preview(
    *, session: Session, order: Order, config: ConfigurationIn, now: datetime | None = None
) -> ReconfigurePreview:
    """Before a buyer confirms a post-lock change: the new configuration's queue position and window.

    The changed order goes to the back of its new configuration's queue, which is exactly what a
    quote for that configuration computes now. Only one 24-hour window after locking allows it.
    """
    now = now or utcnow()
    if order.locked_at is None or order.status not in WAITING:
        raise PolicyViolation(f"Order {order.number} is not a locked order waiting to be built.")
    until = order.locked_at + timedelta(hours=RECONFIGURE_HOURS)
    if now >= until:
        raise PolicyViolation(
            f"The configuration of order {order.number} could only change until {until.isoformat()}.",
            until=until.isoformat(),
        )
    current = tracking(session=session, order=order, now=now).window
    return ReconfigurePreview(
        number=order.number,
        change_allowed_until=until,
        current=current,
        proposed=eta(session=session, config=config, now=now, without_order_id=order.id),
    )


def plan_published(*, session: Session) -> bool:
    """Whether HQ has saved a production plan (without one there is no delivery estimate)."""
    return plan_in_force(session=session) is not None


def eta_for_quote(*, session: Session, quote: Quote | None) -> EtaQuote | None:
    """The configurator's delivery estimate for a priced configuration; None when there is none."""
    if quote is None:
        return None
    config = ConfigurationIn(model=quote.model, trim=quote.trim, options=list(quote.options))
    try:
        return eta(session=session, config=config)
    except DomainError:
        return None


def tracking_for(
    *, session: Session, principal: Principal, number: str, via: str | None = None, ip: str | None = None
) -> TrackingRead:
    """Order ``number``'s tracking as ``principal`` may see it; a staff member's look is audited."""
    order = ordering.get_for(session=session, principal=principal, number=number)
    if principal.is_staff:
        audit.record(
            session=session,
            principal=principal,
            action="production.tracking.view",
            target_type="order",
            target_id=order.number,
            detail={"via": via} if via else None,
            ip=ip,
        )
    return tracking(session=session, order=order)
