"""An edition order never changes buyer except to listed family, and only when its owner confirms."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from carloop.accounts import service as accounts
from carloop.errors import PermissionDenied, PolicyViolation
from carloop.ordering import transfers
from carloop.payments.providers.simulator import SimulatorProvider

from .conftest import paid_order


def test_an_order_passes_to_listed_family_only_once_the_owner_confirms(
    session: Session, provider: SimulatorProvider, buyer_id: int
) -> None:
    spouse = accounts.get_or_create_customer(session=session, phone="13900000001")
    stranger = accounts.get_or_create_customer(session=session, phone="13900000002")
    session.flush()
    order = paid_order(session, provider, buyer_id, trim="founders")
    invited = transfers.invite_family_member(
        session=session, owner_id=buyer_id, member_id=spouse.id, relation="spouse"
    )
    transfers.accept_invitation(session=session, invitation_id=invited.id, member_id=spouse.id)
    with pytest.raises(PolicyViolation):
        transfers.request_transfer(
            session=session, order=order, requested_by=buyer_id, to_customer_id=stranger.id
        )
    with pytest.raises(PermissionDenied):
        transfers.request_transfer(
            session=session, order=order, requested_by=spouse.id, to_customer_id=spouse.id
        )
    proposal = transfers.request_transfer(
        session=session, order=order, requested_by=buyer_id, to_customer_id=spouse.id
    )
    assert order.customer_id == buyer_id  # nothing changes before the owner confirms
    with pytest.raises(PermissionDenied):
        transfers.confirm_transfer(session=session, token=proposal.token, confirmed_by=spouse.id)
    transfers.confirm_transfer(session=session, token=proposal.token, confirmed_by=buyer_id)
    assert order.customer_id == spouse.id
    assert order.events[-1].reason.startswith("handed over to a listed family member")
