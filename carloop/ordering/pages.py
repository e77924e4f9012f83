"""Order pages: checkout, the simulator's pay page, my orders, an order, early lock, staff search."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from carloop.analytics.rules import Stage
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.catalog.schemas import ConfigurationIn
from carloop.clock import utcnow
from carloop.errors import InvalidConfiguration, NotFound
from carloop.ordering import idempotency, rules, service
from carloop.ordering.api import provider_of
from carloop.ordering.intake import service as intake_service
from carloop.ordering.intake.prepare import IntakeOrderCreate
from carloop.ordering.schemas import OrderRead
from carloop.payments import service as payments
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider
from carloop.production import eta
from carloop.web import tracking
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer, OptionalPrincipal, public_base_url

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
    """Review the priced configuration and the deposit terms before paying."""
    config = ConfigurationIn(model=model, trim=trim, options=option or [])
    try:
        quote = catalog.quote(config=config)
    except InvalidConfiguration as err:
        return _render(request, "ordering/checkout.html", {"config": config, "problems": err.problems}, 422)
    return _render(
        request,
        "ordering/checkout.html",
        {"config": config, "quote": quote, "form_key": uuid.uuid4().hex, "problems": []},
    )


@router.post("/orders")
def place_order(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    model: Annotated[str, Form(max_length=40)],
    trim: Annotated[str, Form(max_length=40)],
    form_key: FormKey,
    option: Annotated[list[str] | None, Form(max_length=60)] = None,
) -> Response:
    """Create the order and go to pay its deposit; a double submit lands on the same order."""
    config = ConfigurationIn(model=model, trim=trim, options=option or [])
    customer_id = me.customer_id
    assert customer_id is not None  # require_customer guarantees it

    def produce() -> tuple[int, dict[str, Any]]:
        order = service.reserve(session=session, customer_id=customer_id, config=config)
        tracking.track(
            request,
            session,
            Stage.RESERVATION_STARTED,
            model=order.model,
            trim=order.trim,
            order_id=order.id,
            total_fen=order.total_fen,
        )
        payment = service.start_deposit_payment(
            session=session, provider=provider_of(request), order=order, base_url=public_base_url(request)
        )
        return 303, {"location": payment.pay_url}

    _, body, _ = idempotency.run_once(
        session=session,
        scope=me.actor,
        key=f"page:{form_key}",
        request_hash=idempotency.fingerprint("POST", "/orders", config.model_dump(mode="json")),
        produce=produce,
    )
    return RedirectResponse(body["location"], status_code=303)


@router.post("/launch/reserve")
def launch_reserve(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    model: Annotated[str, Form(max_length=40)],
    trim: Annotated[str, Form(max_length=40)],
    form_key: FormKey,
    option: Annotated[list[str] | None, Form(max_length=60)] = None,
    id_number: Annotated[str | None, Form(max_length=20)] = None,
    attempt: Annotated[int, Form(ge=1, le=100_000)] = 1,
) -> Response:
    """Reserve through the launch queue; when it is full, wait in the waiting room and retry the same key."""
    config = ConfigurationIn(model=model, trim=trim, options=option or [])
    assert me.customer_id is not None  # require_customer guarantees it
    body = IntakeOrderCreate(configuration=config, id_number=(id_number or "").strip() or None)
    outcome = intake_service.reserve_now(
        request=request,
        session=session,
        body=body,
        customer_id=me.customer_id,
        actor=me.actor,
        key=f"launch:{form_key}",
    )
    if outcome.status in (200, 201):
        return RedirectResponse(f"/orders/{outcome.body['number']}", status_code=303)
    context = {
        "config": config,
        "form_key": form_key,
        "attempt": attempt,
        "id_number": body.id_number,
        "retry_after": 2,
        "model": model,
        "taken": service.queue_length(session=session, model=model),
        "problem": None if outcome.status == 503 else str(outcome.body.get("detail", "")),
    }
    response = _render(request, "ordering/waiting.html", context, outcome.status)
    if outcome.status == 503:
        response.headers["Retry-After"] = "2"
    return response


@router.get("/pay/simulator/{trade_no}")
def simulator_page(trade_no: str, request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """The built-in payment simulator: signs a provider notification the buyer's browser delivers."""
    provider = provider_of(request)
    if not isinstance(provider, SimulatorProvider):
        raise NotFound("The payment simulator is not enabled.")
    payment = payments.get_payment(session=session, trade_no=trade_no)
    if payment.order_id is None:  # a merchandise shop payment: the shop has its own simulator page
        return RedirectResponse(f"/shop/pay/{payment.trade_no}", status_code=303)
    order = session.get(service.Order, payment.order_id)
    if order is None or order.customer_id != me.customer_id:
        raise NotFound(f"No payment {trade_no}.")
    sign = provider.signed_notification
    return _render(
        request,
        "ordering/simulator.html",
        {
            "payment": payment,
            "order": order,
            "paid_form": sign(
                trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
            ),
            "closed_form": sign(
                trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.CLOSED
            ),
            "return_to": f"/orders/{order.number}",
        },
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
            "pending_payment": pending[0] if pending else None,
            "form_key": uuid.uuid4().hex,
            "now": utcnow(),
        },
    )


@router.post("/orders/{number}/pay")
def pay_again(number: str, request: Request, session: DbSession, me: FormCustomer) -> Response:
    """Go (back) to the deposit payment of an unpaid order."""
    order = service.get_for(session=session, principal=me, number=number, for_update=True)
    payment = service.start_deposit_payment(
        session=session, provider=provider_of(request), order=order, base_url=public_base_url(request)
    )
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
    deposit_fen: Annotated[int, Form()],
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
    found = service.search(session=session, principal=principal, text=q, status=status)
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
            "q": q,
            "status": status,
            "statuses": list(rules.OrderStatus),
        },
    )
