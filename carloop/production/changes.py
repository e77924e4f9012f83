"""The buyer's post-lock configuration change: preview it, then apply it once, confirmed.

Within 24 hours of locking (``eta.RECONFIGURE_HOURS``, the rule ``eta.reconfigure_preview`` states) a
buyer may change the trim and options of a locked order waiting to be built, within its model. The
preview shows the new price, the difference, the new queue position and the new delivery window;
applying it needs the same explicit confirmation as an early lock (the new price, configuration and
window end repeated, the consequence acknowledged); a window that came out later than the one
confirmed undoes the whole change (the caller's transaction rolls back). Applying it:

- records an ``OrderChange`` keyed by the confirmation form's key (a double submit finds it);
- books the price difference once (``payments.rules.price_changed`` under ``order:<id>:change:<n>``);
- reprices the order (configuration, quote, total; the deposit and launch queue place stay);
- requeues the production slot at the back of the new configuration's queue and re-plans;
- records an order event and an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts.schemas import Principal
from carloop.audit import service as audit
from carloop.catalog.schemas import ConfigurationIn, Quote
from carloop.clock import as_utc, utcnow
from carloop.errors import ErrorCode, PolicyViolation
from carloop.ordering import rules as order_rules
from carloop.ordering import terms
from carloop.ordering.models import Order, OrderChange, OrderEvent
from carloop.payments import ledger
from carloop.payments import rules as money
from carloop.production import eta, rules, triggers
from carloop.production.schemas import ReconfigurePreview
from carloop.production.service import CHANGED_AFTER_LOCK, WAITING, replan, slot_for


@dataclass(frozen=True, slots=True)
class ChangePreview:
    """What the buyer reviews before confirming a change."""

    quote: Quote
    difference_fen: int  # new total - current total
    queue_position: int  # place in the new configuration's queue (1 = next)
    reconfigure: ReconfigurePreview  # the current window, the proposed window and the deadline


def change_deadline(order: Order) -> datetime | None:
    """Until when a locked order's configuration may change; None if it was never locked."""
    if order.locked_at is None:
        return None
    return as_utc(order.locked_at) + timedelta(hours=eta.RECONFIGURE_HOURS)


def may_change(order: Order, now: datetime | None = None) -> bool:
    """Whether the buyer may still change the configuration now."""
    until = change_deadline(order)
    return until is not None and order.status in WAITING and (now or utcnow()) < until


def preview(
    *, session: Session, order: Order, config: ConfigurationIn, now: datetime | None = None
) -> ChangePreview:
    """Price, queue position and window of a proposed change (refused outside the 24-hour window)."""
    if config.model != order.model:
        raise PolicyViolation("A change after locking keeps the model; choose another trim or options.")
    reconfigure = eta.reconfigure_preview(session=session, order=order, config=config, now=now)
    quote = terms.storefront_quote(session=session, config=config)
    if (quote.edition or None) != (order.edition or None):
        raise PolicyViolation("A change after locking cannot move an order into or out of an edition.")
    if quote.trim == order.trim and sorted(quote.options) == sorted(order.options):
        raise PolicyViolation("That is the configuration the order already has.")
    return ChangePreview(
        quote=quote,
        difference_fen=quote.total_fen - order.total_fen,
        queue_position=reconfigure.proposed.queue_ahead + 1,
        reconfigure=reconfigure,
    )


def apply_change(
    *,
    session: Session,
    principal: Principal,
    order: Order,
    config: ConfigurationIn,
    confirmation: order_rules.ChangeConfirmation,
    key: str,
    ip: str | None = None,
    now: datetime | None = None,
) -> OrderChange:
    """Apply a confirmed change once (the order loaded ``for_update``); the same ``key`` again returns it."""
    existing = session.scalar(
        select(OrderChange).where(OrderChange.order_id == order.id, OrderChange.key == key)
    )
    if existing is not None:
        return existing
    now = now or utcnow()
    seen = preview(session=session, order=order, config=config, now=now)
    quote = seen.quote
    order_rules.check_change_confirmation(
        confirmation, total_fen=quote.total_fen, configuration=quote.summary_en
    )
    change = OrderChange(
        order_id=order.id,
        key=key,
        actor=principal.actor,
        from_trim=order.trim,
        from_options=list(order.options),
        to_trim=quote.trim,
        to_options=list(quote.options),
        from_total_fen=order.total_fen,
        to_total_fen=quote.total_fen,
        created_at=now,
    )
    session.add(change)
    session.flush()
    if change.difference_fen:
        ledger.post(
            session=session,
            key=f"order:{order.id}:change:{change.id}",
            kind="price_change",
            lines=money.price_changed(order.id, change.difference_fen),
            order_id=order.id,
            memo=f"order {order.number}: configuration changed after lock",
        )
    order.trim, order.options = quote.trim, list(quote.options)
    order.quote = quote.model_dump(mode="json")
    order.total_fen, order.catalog_version = quote.total_fen, quote.catalog_version
    event = OrderEvent(
        actor=principal.actor,
        from_status=str(order.status),
        to_status=str(order.status),
        reason=CHANGED_AFTER_LOCK,
        data={
            "change_id": change.id,
            "from": f"{change.from_trim} {' '.join(change.from_options)}",
            "to": f"{change.to_trim} {' '.join(change.to_options)}",
            "difference_fen": change.difference_fen,
        },
        at=now,
    )
    order.events.append(event)
    session.add(event)
    slot = slot_for(session=session, order_id=order.id)
    if slot is not None and slot.active and not slot.built:
        slot.trim, slot.options = order.trim, list(order.options)
        slot.configuration = rules.configuration_key(order.model, order.trim, order.options)
        slot.queued_at = now  # the back of the new configuration's queue
        replan(
            session=session,
            trigger=triggers.order_reconfigured(order.number),
            now=now,
            requeued_order_id=order.id,
        )
        if not order_rules.window_kept(confirmation.latest_delivery, slot.promised_latest):
            raise PolicyViolation(
                "The delivery window changed since you reviewed it; review the change again.",
                code=ErrorCode.CHANGE_NOT_CONFIRMED,
            )
    audit.record(
        session=session,
        principal=principal,
        action="order.configuration.change",
        target_type="order",
        target_id=order.number,
        detail={
            "change_id": change.id,
            "from_total_fen": change.from_total_fen,
            "to_total_fen": change.to_total_fen,
            "to_trim": change.to_trim,
            "to_options": change.to_options,
        },
        ip=ip,
    )
    session.flush()
    return change


def changes_of(*, session: Session, order_id: int) -> list[OrderChange]:
    """An order's configuration changes, oldest first."""
    query = select(OrderChange).where(OrderChange.order_id == order_id).order_by(OrderChange.id)
    return list(session.scalars(query))
