"""Anti-scalper hand-overs: an order keeps its buyer, except to family who accepted the owner's invitation,
with the owner confirming the hand-over."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.errors import Conflict, NotFound, PermissionDenied, PolicyViolation
from carloop.ordering import editions
from carloop.ordering.models import FamilyMember, Order, OrderEvent, OrderTransfer
from carloop.ordering.rules import FINAL


def invite_family_member(*, session: Session, owner_id: int, member_id: int, relation: str) -> FamilyMember:
    """Invite someone as family; they count only once they accept (inviting again changes nothing)."""
    if member_id == owner_id:
        raise PolicyViolation("You cannot list yourself as family.", field="phone")
    found = session.scalar(
        select(FamilyMember).where(FamilyMember.owner_id == owner_id, FamilyMember.member_id == member_id)
    )
    if found is not None:
        return found
    member = FamilyMember(owner_id=owner_id, member_id=member_id, relation=relation[:20])
    session.add(member)
    session.flush()
    return member


def invitations_for(*, session: Session, member_id: int) -> list[FamilyMember]:
    """The family invitations waiting for a customer's answer, oldest first."""
    return list(
        session.scalars(
            select(FamilyMember)
            .where(FamilyMember.member_id == member_id, FamilyMember.confirmed_at.is_(None))
            .order_by(FamilyMember.id)
        )
    )


def _invitation(session: Session, invitation_id: int, member_id: int) -> FamilyMember:
    found = session.get(FamilyMember, invitation_id)
    if found is None or found.member_id != member_id:  # someone else's invitation is not found
        raise NotFound("No such family invitation.")
    return found


def accept_invitation(*, session: Session, invitation_id: int, member_id: int) -> FamilyMember:
    """The invited person consents to being the owner's family (accepting twice changes nothing)."""
    invitation = _invitation(session, invitation_id, member_id)
    if invitation.confirmed_at is None:
        invitation.confirmed_at = utcnow()
        session.flush()
    return invitation


def decline_invitation(*, session: Session, invitation_id: int, member_id: int) -> None:
    """The invited person says no, or leaves the owner's family later: the row goes."""
    session.delete(_invitation(session, invitation_id, member_id))
    session.flush()


def family_members(*, session: Session, owner_id: int) -> list[FamilyMember]:
    """The family members who accepted an owner's invitation, first invited first."""
    return list(
        session.scalars(
            select(FamilyMember)
            .where(FamilyMember.owner_id == owner_id, FamilyMember.confirmed_at.is_not(None))
            .order_by(FamilyMember.id)
        )
    )


def get_transfer(*, session: Session, order: Order, token: str) -> OrderTransfer:
    """A hand-over proposed for ``order`` (one for another order is not found)."""
    transfer = session.scalar(
        select(OrderTransfer).where(OrderTransfer.token == token, OrderTransfer.order_id == order.id)
    )
    if transfer is None:
        raise NotFound("No such transfer for this order.")
    return transfer


def family_of(*, session: Session, owner_id: int) -> list[int]:
    """The customer ids who consented to be an owner's family (invitations alone do not count)."""
    return list(
        session.scalars(
            select(FamilyMember.member_id).where(
                FamilyMember.owner_id == owner_id, FamilyMember.confirmed_at.is_not(None)
            )
        )
    )


def request_transfer(
    *, session: Session, order: Order, requested_by: int, to_customer_id: int
) -> OrderTransfer:
    """Propose handing an order to a listed family member; nothing changes until the owner confirms."""
    if order.status in FINAL:
        raise Conflict(f"Order {order.number} has ended; it cannot be handed over.")
    policy = editions.policy_for(editions.policies(), order.edition or "*")
    editions.check_transfer(
        policy,
        owner_id=order.customer_id,
        requested_by=requested_by,
        to_customer_id=to_customer_id,
        family=family_of(session=session, owner_id=order.customer_id),
    )
    transfer = OrderTransfer(
        order_id=order.id,
        from_customer_id=order.customer_id,
        to_customer_id=to_customer_id,
        token=secrets.token_urlsafe(24),
    )
    session.add(transfer)
    session.flush()
    return transfer


def confirm_transfer(*, session: Session, token: str, confirmed_by: int) -> Order:
    """The owner confirms a proposed hand-over; the order then belongs to the family member (recorded)."""
    transfer = session.scalar(select(OrderTransfer).where(OrderTransfer.token == token).with_for_update())
    if transfer is None:
        raise NotFound("No such transfer.")
    order = session.get(Order, transfer.order_id, with_for_update=True)
    assert order is not None  # foreign key
    if transfer.confirmed_at is not None:
        return order
    if confirmed_by != transfer.from_customer_id or order.customer_id != transfer.from_customer_id:
        raise PermissionDenied("Only the order's owner can confirm handing it over.")
    if order.status in FINAL:
        raise Conflict(f"Order {order.number} has ended; it cannot be handed over.")
    transfer.confirmed_at = utcnow()
    order.customer_id = transfer.to_customer_id
    event = OrderEvent(
        actor=f"customer:{confirmed_by}",
        from_status=str(order.status),
        to_status=str(order.status),
        reason="handed over to a listed family member, confirmed by the owner",
        data={"from_customer_id": transfer.from_customer_id, "to_customer_id": transfer.to_customer_id},
    )
    order.events.append(event)
    session.add(event)
    session.flush()
    return order
