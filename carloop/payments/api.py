"""Payment webhooks: ``POST /api/v1/payments/notify/{provider}``, the provider's signed notification.

The notification is captured by ``payments.captures`` (verified with the provider's own algorithm,
applied once, booked, and settled by the handler registered for the payment's purpose, all in the
request's transaction). At launch rate the same path is served in batches by the notification lane
(``web.lanes``); this route is the one-at-a-time form of it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from carloop.accounts.rules import safe_next
from carloop.errors import NotFound, PaymentFailed
from carloop.payments import captures, refund_notices
from carloop.payments.providers import ProviderSet, wechat_rules
from carloop.payments.providers.base import PaymentProvider
from carloop.web.deps import DbSession

router = APIRouter(tags=["payments"])


def provider_of(request: Request) -> PaymentProvider:
    """The payment provider the app was built with (the default, and the others by name)."""
    provider: PaymentProvider = request.app.state.payment_provider
    return provider


def named_provider(request: Request, name: str) -> PaymentProvider:
    """The configured provider called ``name``, or a 404."""
    provider = provider_of(request)
    found = provider.get(name) if isinstance(provider, ProviderSet) else None
    if found is None and provider.name == name and not isinstance(provider, ProviderSet):
        found = provider
    if found is None:
        raise NotFound(f"No payment provider {name!r} is configured.")
    return found


async def notification_fields(request: Request, provider_name: str) -> dict[str, str]:
    """What a provider's callback says, for its verifier: WeChat Pay's signed headers and JSON body,
    or the others' form fields."""
    if provider_name == "wechat":
        return wechat_rules.callback_fields(request.headers, await request.body())
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not fields:
        raise PaymentFailed("The notification has no form fields.")
    return fields


@router.post("/payments/notify/{provider_name}", response_class=PlainTextResponse)
async def payment_notification(provider_name: str, request: Request, session: DbSession) -> Response:
    """Receive a provider's signed, form-encoded notification; answers ``success`` once applied.

    Duplicates and replays answer ``success`` too and change nothing; a forged or malformed one is
    refused with a problem response. The simulator's pay page posts here with ``return_to`` and the
    buyer is then sent back to what they paid for.
    """
    provider = named_provider(request, provider_name)
    fields = await notification_fields(request, provider_name)
    handlers = request.app.state.capture_handlers
    try:
        await run_in_threadpool(
            lambda: captures.handle_notification(
                session=session,
                provider=provider,
                form=fields,
                handlers=handlers,
                lock_first=request.app.state.lock_first,
            )
        )
    except PaymentFailed as err:
        if err.data.get("final") is not False:
            raise
        # A genuine but non-final status (WAIT_BUYER_PAY): acknowledge it so the provider stops resending.
    back = safe_next(request.query_params.get("return_to"), default="")
    if back:
        return RedirectResponse(back, status_code=303)
    return PlainTextResponse("success")


@router.post("/payments/refunds/notify/{provider_name}", response_class=PlainTextResponse)
async def refund_notification(provider_name: str, request: Request, session: DbSession) -> Response:
    """Receive a provider's signed callback about a refund (WeChat Pay's REFUND.*); ``success`` once
    recorded, replays included. A refund the provider could not make is left for reconciliation."""
    provider = named_provider(request, provider_name)
    verify = getattr(provider, "verify_refund_notice", None)
    if verify is None:
        raise NotFound(f"Payment provider {provider_name!r} sends no refund callbacks.")
    fields = await notification_fields(request, provider_name)
    await run_in_threadpool(
        lambda: refund_notices.record(session=session, notice=verify(fields), form=fields)
    )
    return PlainTextResponse("success")
