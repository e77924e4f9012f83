"""Paying: our pay link (``/pay/{trade_no}``, which sends the buyer to the provider's cashier) and
the built-in simulator's cashier page, one for every kind of payment."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from carloop.errors import NotFound
from carloop.payments import captures
from carloop.payments import service as payments
from carloop.payments.api import provider_of
from carloop.payments.models import Payment, PaymentStatus
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.web.deps import CurrentCustomer, DbSession, public_base_url

router = APIRouter()


def _payers(session: DbSession, me: CurrentCustomer, trade_no: str) -> Payment:
    payment = payments.get_payment(session=session, trade_no=trade_no)
    if payment.customer_id is None or payment.customer_id != me.customer_id:
        raise NotFound(f"No payment {trade_no}.")
    return payment


def _back(payment: Payment) -> str:
    parts = urlsplit(payment.return_url or "/")
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


@router.get("/pay/{trade_no}")
def pay(trade_no: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """Go to the provider's cashier for one of the buyer's pending payments (signed now, not before)."""
    payment = _payers(session, me, trade_no)
    if payment.status is not PaymentStatus.PENDING:
        return RedirectResponse(_back(payment), status_code=303)
    url = captures.cashier_url(
        payment=payment,
        provider=provider_of(request),
        base_url=public_base_url(request),
        subject=f"carloop {payment.purpose} {payment.trade_no}",
    )
    return RedirectResponse(url, status_code=303)


@router.get("/pay/simulator/{trade_no}")
def simulator_page(trade_no: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The built-in payment simulator: signs a provider notification that the buyer's browser delivers."""
    provider = provider_of(request)
    if not isinstance(provider, SimulatorProvider):
        raise NotFound("The payment simulator is not enabled.")
    payment = _payers(session, me, trade_no)
    sign = provider.signed_notification
    return request.app.state.renderer.render(
        request,
        "payments/simulator.html",
        {
            "payment": payment,
            "paid_form": sign(
                trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
            ),
            "closed_form": sign(
                trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.CLOSED
            ),
            "return_to": _back(payment),
        },
        # Never from the back/forward cache or the HTTP cache: coming back after paying must ask the
        # server again, which shows the payment as done instead of a live Pay button.
        headers={"Cache-Control": "no-store"},
    )
