"""Order pages: checkout (every model and edition), my orders, an order, early lock, staff search."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.accounts import identity as identities
from carloop.accounts import service as accounts
from carloop.accounts.models import Customer
from carloop.accounts.rules import mask_phone
from carloop.accounts.schemas import Principal
from carloop.analytics.rules import Stage
from carloop.audit import service as audit
from carloop.campaigns import attribution
from carloop.campaigns import service as campaigns
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.errors import Conflict, DomainError, InvalidConfiguration, PolicyViolation, Unavailable
from carloop.invoicing import service as invoicing
from carloop.ordering import deposits, editions, panels, reservations, rules, service
from carloop.ordering.schemas import OrderRead
from carloop.payments import service as payments
from carloop.payments.api import provider_of
from carloop.production import changes, eta, inventory
from carloop.web import tracking
from carloop.web.deps import (
    CurrentCustomer,
    DbSession,
    FormCustomer,
    OptionalPrincipal,
    csrf_matches,
    identify_first,
)
from carloop.web.problems import status_for

router = APIRouter()

FormKey = Annotated[str, Form(min_length=8, max_length=64)]


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/checkout")
def checkout(
    request: Request,
    session: DbSession,
    me: CurrentCustomer,
    model: Annotated[str, Query(max_length=40)],
    trim: Annotated[str, Query(max_length=40)],
    option: Annotated[list[str] | None, Query(max_length=60)] = None,
) -> Response:
    """Review the priced configuration, the deposit terms and any early-bird perk before paying
    (before a campaign's reveal: a problem saying when orders open)."""
    campaigns.ensure_orders_open(session=session, model=model, trim=trim)
    assert me.customer_id is not None
    attribution.claim_touches(
        session=session, visitor=getattr(request.state, "visitor", ""), customer_id=me.customer_id
    )
    config = ConfigurationIn(model=model, trim=trim, options=option or [])
    try:
        quote = catalog.quote(config=config)
    except InvalidConfiguration as err:
        return _render(request, "ordering/checkout.html", {"config": config, "problems": err.problems}, 422)
    return _render(request, "ordering/checkout.html", _checkout_context(session, me, config, quote, None))


def _checkout_context(
    session: DbSession, me: Principal, config: ConfigurationIn, quote: Any, error: str | None
) -> dict[str, Any]:
    """The checkout page's context: an edition asks for name and number unless the account is bound."""
    assert me.customer_id is not None  # require_customer guarantees it
    bound = quote.edition is not None and identities.bound_hash(session=session, customer_id=me.customer_id)
    return {
        "config": config,
        "quote": quote,
        "form_key": uuid.uuid4().hex,
        "problems": [],
        "error": error,
        "identity_verified": bool(bound),
        "perk": attribution.perk_offer(session=session, model=config.model, trim=config.trim),
    }


@dataclass(frozen=True, slots=True)
class FormIdentity:
    """The checkout form's identity number (normalised), its verified hash, or why it was refused."""

    id_number: str | None
    identity_hash: str | None = None
    error: DomainError | None = None


def form_identity(
    request: Request,
    csrf_token: Annotated[str, Form()],
    id_number: Annotated[str | None, Form(max_length=20)] = None,
    real_name: Annotated[str | None, Form(max_length=40)] = None,
) -> FormIdentity:
    """The form's identity, verified before the route's transaction opens (``deps.identify_first``).

    Only a signed-in customer's form carrying its anti-forgery token gets a (paid) check; any other
    post is left to the route's own dependencies, which refuse it (401/403).
    """
    number = (id_number or "").strip().upper() or None
    if number is None or not csrf_matches(request, csrf_token):
        return FormIdentity(number)
    if not editions.valid_id_number(number):
        return FormIdentity(
            number, error=PolicyViolation("Enter a valid 18-character resident identity number.")
        )
    try:
        found = identify_first(request, id_number=number, real_name=real_name)
    except DomainError as err:
        return FormIdentity(number, error=err)
    return FormIdentity(number, found.identity_hash)


@router.post("/orders")
def place_order(
    request: Request,
    identity: Annotated[FormIdentity, Depends(form_identity)],  # before DbSession: no transaction yet
    session: DbSession,
    me: FormCustomer,
    model: Annotated[str, Form(max_length=40)],
    trim: Annotated[str, Form(max_length=40)],
    form_key: FormKey,
    option: Annotated[list[str] | None, Form(max_length=60)] = None,
) -> Response:
    """Reserve (``reserve_many`` of one) and go to pay; a double submit lands on the same order."""
    config = ConfigurationIn(model=model, trim=trim, options=option or [])
    assert me.customer_id is not None  # require_customer guarantees it
    if identity.error is not None:
        return _checkout(request, session, me, config, identity.error)
    try:
        made = reservations.reserve(
            session=session,
            provider=provider_of(request),
            customer_id=me.customer_id,
            config=config,
            scope=me.actor,
            key=f"page:{form_key}",
            identity_hash=identity.identity_hash,
            id_number=identity.id_number,
        )
    except InvalidConfiguration:
        raise  # the checkout page already refused it; a crafted post gets the problem page
    except (PolicyViolation, Conflict) as err:
        return _checkout(request, session, me, config, err)
    if not made.replayed:
        tracking.track(
            request,
            session,
            Stage.RESERVATION_STARTED,
            model=made.model,
            trim=made.trim,
            order_id=made.order_id,
            total_fen=made.total_fen,
        )
    return RedirectResponse(made.pay_url or f"/orders/{made.number}", status_code=303)


def _checkout(
    request: Request, session: DbSession, me: Principal, config: ConfigurationIn, err: DomainError
) -> Response:
    """The checkout page again, saying why the reservation was refused (the status the API would give)."""
    quote = catalog.quote(config=config)
    context = _checkout_context(session, me, config, quote, err.message)
    headers = {"Retry-After": str(err.retry_after)} if isinstance(err, Unavailable) else None
    return request.app.state.renderer.render(
        request, "ordering/checkout.html", context, status_code=status_for(err), headers=headers
    )


@router.get("/orders")
def my_orders(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The buyer's orders."""
    assert me.customer_id is not None  # require_customer guarantees it
    orders = service.list_for_customer(session=session, customer_id=me.customer_id)
    return _render(request, "ordering/orders.html", {"orders": [OrderRead.of(o) for o in orders]})


@router.get("/orders/{number}")
def order_page(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """One order: status timeline, price breakdown and the deposit's refundability with its controls."""
    order = service.get_for(session=session, principal=me, number=number)
    pending = [
        p
        for p in payments.payments_for_order(session=session, order_id=order.id)
        if str(p.status) == "pending"
    ]
    return _render(
        request,
        "ordering/order.html",
        {
            "order": OrderRead.of(order),
            "tracking": eta.tracking(session=session, order=order),
            "panel": panels.state_panel(session=session, order=order),
            "pending_payment": pending[0] if pending else None,
            "documents": invoicing.documents_for(
                session=session, order=order, einvoice_offline=request.app.state.einvoicer is None
            ),
            "base": "/orders",
            "form_key": uuid.uuid4().hex,
            "now": utcnow(),
            "may_change": changes.may_change(order),
            "change_until": changes.change_deadline(order),
            "car_offer": inventory.offer_for(session=session, order_id=order.id),
            "campaign_perk": attribution.perk_of_order(session=session, order_id=order.id),
        },
    )


@router.post("/orders/{number}/pay")
def pay_again(number: str, request: Request, session: DbSession, me: FormCustomer) -> Response:
    """Go (back) to the deposit payment of an unpaid order."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    payment = deposits.start_deposit_payment(session=session, provider=provider_of(request), order=order)
    return RedirectResponse(payment.pay_url, status_code=303)


@router.post("/orders/{number}/refund")
def refund(number: str, request: Request, session: DbSession, me: FormCustomer) -> Response:
    """One-click refund of a refundable deposit (safe to click twice)."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    service.refund_deposit(session=session, provider=provider_of(request), order=order, actor=me.actor)
    return RedirectResponse(f"/orders/{number}", status_code=303)


@router.get("/orders/{number}/lock")
def confirm_lock(number: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """Step two of an early lock: repeat the amount and configuration before the final acknowledgement."""
    order = service.get_for(session=session, principal=me, number=number)
    return _render(
        request,
        "ordering/lock.html",
        {"order": OrderRead.of(order), "summary": service.configuration_summary(order)},
    )


@router.post("/orders/{number}/lock")
def lock(
    number: str,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    deposit_fen: Annotated[int, Form(ge=0, lt=2**63)],
    configuration: Annotated[str, Form(max_length=300)],
    acknowledge: Annotated[bool, Form()] = False,
) -> Response:
    """Lock early once the buyer ticked the acknowledgement on the confirmation page."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    service.lock(
        session=session,
        order=order,
        confirmation=rules.LockConfirmation(acknowledge, deposit_fen, configuration),
        actor=me.actor,
    )
    return RedirectResponse(f"/orders/{number}", status_code=303)


@router.post("/orders/{number}/cancel")
def cancel(
    number: str,
    request: Request,
    session: DbSession,
    me: FormCustomer,
    accept_forfeit: Annotated[bool, Form()] = False,
) -> Response:
    """Cancel an order from its page."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    service.cancel(
        session=session,
        provider=provider_of(request),
        order=order,
        actor=me.actor,
        accept_forfeit=accept_forfeit,
    )
    return RedirectResponse(f"/orders/{number}", status_code=303)


@router.get("/staff/orders")
def staff_orders(
    request: Request,
    session: DbSession,
    principal: OptionalPrincipal,
    q: Annotated[str, Query(max_length=60)] = "",
    status: rules.OrderStatus | None = None,
) -> Response:
    """Staff order search, within the role's and store's reach (audited)."""
    if principal is None or not principal.is_staff:
        return RedirectResponse("/staff/login?next=/staff/orders", status_code=303)
    buyer = _buyer_by_phone(session, q)
    found = service.search(
        session=session,
        principal=principal,
        text=q,
        status=status,
        customer_id=buyer.id if buyer is not None else (0 if _looks_like_phone(q) else None),
    )
    names = {
        c.id: (c.display_name, mask_phone(c.phone))
        for c in session.scalars(select(Customer).where(Customer.id.in_({o.customer_id for o in found})))
    }
    audit.record(
        session=session,
        principal=principal,
        action="order.search",
        target_type="order",
        target_id="*",
        detail={"q": q, "status": str(status) if status else None, "results": len(found), "via": "page"},
        ip=request.client.host if request.client else None,
    )
    return _render(
        request,
        "ordering/staff_orders.html",
        {
            "orders": [OrderRead.of(o) for o in found],
            "customers": [names.get(o.customer_id, ("", "")) for o in found],
            "q": q,
            "status": status,
            "statuses": list(rules.OrderStatus),
        },
    )


def _looks_like_phone(text: str) -> bool:
    digits = text.strip().removeprefix("+86")
    return len(digits) == 11 and digits.isdigit()


def _buyer_by_phone(session: Session, text: str) -> Customer | None:
    """The buyer whose mobile number staff typed into the order search, if it is one."""
    if not _looks_like_phone(text):
        return None
    return accounts.find_customer(session=session, phone=text.strip())
