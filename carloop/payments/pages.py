"""Paying: our pay link (``/pay/{trade_no}``: the buyer picks a configured provider and goes to its
cashier), WeChat Pay's page (a Native QR code, or H5 on a phone) and the built-in simulator's page."""

from __future__ import annotations

from urllib.parse import urlsplit

import segno
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from carloop.errors import NotFound
from carloop.payments import captures
from carloop.payments import service as payments
from carloop.payments.api import named_provider, provider_of
from carloop.payments.models import Payment, PaymentStatus
from carloop.payments.providers import ProviderSet
from carloop.payments.providers.base import NotificationStatus, PaymentProvider
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.payments.providers.wechat import WeChatPayProvider
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
    """Go to the provider's cashier for one of the buyer's pending payments (signed now, not before).

    With more than one provider configured the buyer chooses first (``?via=wechat``); the choice is
    the payment's provider until it is captured, where the money was actually taken counts.
    """
    payment = _payers(session, me, trade_no)
    if payment.status is not PaymentStatus.PENDING:
        return RedirectResponse(_back(payment), status_code=303)
    names = _names(provider_of(request))
    via = request.query_params.get("via", "")
    if len(names) > 1 and via not in names:
        return request.app.state.renderer.render(
            request, "payments/choose.html", {"payment": payment, "names": names, "back": _back(payment)}
        )
    provider = named_provider(request, via or names[0])
    payment.provider = provider.name
    url = captures.cashier_url(
        payment=payment,
        provider=provider,
        base_url=public_base_url(request),
        subject=f"carloop {payment.purpose} {payment.trade_no}",
    )
    return RedirectResponse(url, status_code=303)


def _names(provider: PaymentProvider) -> list[str]:
    return provider.names if isinstance(provider, ProviderSet) else [provider.name]


def _is_phone(request: Request) -> bool:
    agent = request.headers.get("user-agent", "")
    return any(word in agent for word in ("Mobile", "Android", "iPhone"))


@router.get("/pay/wechat/{trade_no}")
def wechat_page(trade_no: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """WeChat Pay: a Native QR code to scan on a desktop (refreshing until paid), H5 on a phone."""
    provider = named_provider(request, "wechat")
    if not isinstance(provider, WeChatPayProvider):
        raise NotFound("WeChat Pay is not configured.")
    payment = _payers(session, me, trade_no)
    if payment.status is not PaymentStatus.PENDING:
        return RedirectResponse(_back(payment), status_code=303)
    payment.provider = provider.name
    base = public_base_url(request).rstrip("/")
    subject, notify_url = (
        f"carloop {payment.purpose} {payment.trade_no}",
        f"{base}/api/v1/payments/notify/wechat",
    )
    if _is_phone(request) and "MicroMessenger" not in request.headers.get("user-agent", ""):
        url = provider.h5_url(
            trade_no=payment.trade_no,
            amount_fen=payment.amount_fen,
            subject=subject,
            notify_url=notify_url,
            client_ip=request.client.host if request.client else "",
            return_url=base + _back(payment),
        )
        return RedirectResponse(url, status_code=303)
    code_url = provider.native_code_url(
        trade_no=payment.trade_no, amount_fen=payment.amount_fen, subject=subject, notify_url=notify_url
    )
    svg = segno.make(code_url, error="m").svg_inline(scale=6, title="WeChat Pay")
    return request.app.state.renderer.render(
        request,
        "payments/wechat.html",
        # segno writes the SVG itself; the code URL is in it only as QR modules, never as text.
        {
            "payment": payment,
            "qr_svg": Markup(svg),  # noqa: S704
            "code_url": code_url,
            "back": _back(payment),
            "other_ways": len(_names(provider_of(request))) > 1,
        },
    )


@router.get("/pay/simulator/{trade_no}")
def simulator_page(trade_no: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The built-in payment simulator: signs a provider notification that the buyer's browser delivers."""
    provider = provider_of(request)
    provider = provider.get("simulator") if isinstance(provider, ProviderSet) else provider  # type: ignore[assignment]
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
