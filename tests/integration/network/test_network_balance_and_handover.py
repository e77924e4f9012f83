"""The balance in several payments through the ledger, and the handover that delivers the order."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from carloop.audit import service as audit
from carloop.errors import NotFound, PermissionDenied, PolicyViolation
from carloop.network import handover
from carloop.network import service as network
from carloop.ordering import service as ordering
from carloop.ordering.models import Order
from carloop.ordering.rules import OrderStatus
from carloop.outbox.models import OutboxEvent
from carloop.payments import ledger
from carloop.payments.providers.base import NotificationStatus

from .conftest import PROVIDER, VIN, advance_to, buyer, paid_order, seed, staff_of


def arrived_order(session: Session) -> Order:
    me = buyer(session)
    order = paid_order(session, me.customer_id or 0)
    network.assign_delivery_centre(session=session, order=order, city="Beijing", actor=me.actor)
    return advance_to(session, order, OrderStatus.AT_DELIVERY_CENTRE)


def pay_online(session: Session, order: Order, amount_fen: int) -> None:
    me = buyer(session)
    payment = handover.start_balance_payment(
        session=session,
        provider=PROVIDER,
        principal=me,
        number=order.number,
        amount_fen=amount_fen,
        base_url="http://t/",
    )
    form = PROVIDER.signed_notification(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    ordering.handle_notification(session=session, provider=PROVIDER, form=form)


def test_the_balance_is_paid_in_two_parts_and_the_car_handed_over(session: Session) -> None:
    seed(session)
    order = arrived_order(session)
    due = handover.balance(session=session, order=order).due_fen
    assert due == order.total_fen - order.deposit_fen
    pay_online(session, order, due // 2)
    staff = staff_of(session, "BJ-DC-01")
    with pytest.raises(PolicyViolation, match="not settled"):
        handover.hand_over(
            session=session,
            principal=staff,
            number=order.number,
            vin=VIN,
            inspection_passed=True,
            documents_signed=True,
        )
    with pytest.raises(PolicyViolation):  # more than is due
        handover.record_store_payment(
            session=session, principal=staff, number=order.number, amount_fen=due, reference="POS-1"
        )
    rest = due - due // 2
    first = handover.record_store_payment(
        session=session, principal=staff, number=order.number, amount_fen=rest, reference="POS-1"
    )
    again = handover.record_store_payment(
        session=session, principal=staff, number=order.number, amount_fen=rest, reference="POS-1"
    )
    assert again.id == first.id and first.provider == "store"
    assert handover.balance(session=session, order=order).settled
    assert ledger.check(session=session).ok
    assert audit.list_entries(session=session, action="payment.record_at_store")[0].target_id == str(order.id)

    with pytest.raises(PolicyViolation, match="VIN"):
        handover.hand_over(
            session=session,
            principal=staff,
            number=order.number,
            vin="LSJA24U69PS999999",
            inspection_passed=True,
            documents_signed=True,
        )
    with pytest.raises(PolicyViolation, match="inspection"):
        handover.hand_over(
            session=session,
            principal=staff,
            number=order.number,
            vin=VIN,
            inspection_passed=False,
            documents_signed=True,
        )
    done = handover.hand_over(
        session=session,
        principal=staff,
        number=order.number,
        vin=VIN.lower(),
        inspection_passed=True,
        documents_signed=True,
    )
    assert done.vin == VIN and order.status is OrderStatus.DELIVERED
    delivered = [e for e in session.query(OutboxEvent).all() if e.name == "order.delivered"]
    assert delivered and delivered[0].payload["vin"] == VIN
    assert audit.list_entries(session=session, action="order.handover")[0].detail["vin"] == VIN


def test_staff_of_another_store_cannot_take_payments_or_hand_over(session: Session) -> None:
    seed(session)
    order = arrived_order(session)
    other = staff_of(session, "SH-ST-01")
    with pytest.raises(NotFound):
        handover.record_store_payment(
            session=session, principal=other, number=order.number, amount_fen=100, reference="X"
        )
    with pytest.raises(NotFound):
        handover.hand_over(
            session=session,
            principal=other,
            number=order.number,
            vin=VIN,
            inspection_passed=True,
            documents_signed=True,
        )
    with pytest.raises(PermissionDenied):  # only the buyer pays online
        handover.start_balance_payment(
            session=session,
            provider=PROVIDER,
            principal=staff_of(session, "BJ-DC-01"),
            number=order.number,
            amount_fen=100,
            base_url="http://t/",
        )


def test_no_balance_is_taken_before_the_order_is_locked(session: Session) -> None:
    seed(session)
    me = buyer(session)
    order = paid_order(session, me.customer_id or 0)
    with pytest.raises(PolicyViolation, match="no balance payment"):
        handover.start_balance_payment(
            session=session,
            provider=PROVIDER,
            principal=me,
            number=order.number,
            amount_fen=100,
            base_url="http://t/",
        )


def test_an_over_paid_balance_is_refunded_at_handover_once(session: Session) -> None:
    """A late notification for an abandoned attempt over-pays; the handover refunds the surplus first."""
    from carloop.payments import service as payments

    seed(session)
    order = arrived_order(session)
    due = handover.balance(session=session, order=order).due_fen
    me = buyer(session)
    abandoned = handover.start_balance_payment(
        session=session,
        provider=PROVIDER,
        principal=me,
        number=order.number,
        amount_fen=due,
        base_url="http://t/",
    )
    pay_online(session, order, due)  # closes the first attempt, pays the whole balance
    late = PROVIDER.signed_notification(
        trade_no=abandoned.trade_no, amount_fen=abandoned.amount_fen, status=NotificationStatus.SUCCEEDED
    )
    ordering.handle_notification(session=session, provider=PROVIDER, form=late)
    held = handover.balance(session=session, order=order).held_fen
    assert held == order.total_fen + due
    staff = staff_of(session, "BJ-DC-01")
    with pytest.raises(PolicyViolation, match="not settled"):  # without a provider nothing is refunded
        handover.hand_over(
            session=session, principal=staff, number=order.number, vin=VIN,
            inspection_passed=True, documents_signed=True,
        )  # fmt: skip
    handover.hand_over(
        session=session, principal=staff, number=order.number, vin=VIN,
        inspection_passed=True, documents_signed=True, provider=PROVIDER,
    )  # fmt: skip
    assert order.status is OrderStatus.DELIVERED
    assert ledger.held_for_order(session=session, order_id=order.id) == order.total_fen
    assert ledger.check(session=session).ok
    again = payments.refund_surplus(
        session=session, provider=PROVIDER, principal=staff, order_id=order.id, total_fen=order.total_fen
    )
    assert again == []
    refunds = audit.list_entries(session=session, action="payment.refund_surplus")
    assert len(refunds) == 1 and refunds[0].detail["amount_fen"] == due
