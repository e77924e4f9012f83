"""Notice pages: my inbox (every notice, in my language) and how I want notices (language, e-mail,
SMS), a form with the anti-forgery token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from carloop.errors import PolicyViolation
from carloop.notices import rules, service
from carloop.web.deps import CurrentCustomer, DbSession, FormCustomer
from carloop.web.i18n import translate_message

router = APIRouter()


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/me/notices")
def inbox_page(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """My notices, newest first, in the language I chose; opening the page marks them read."""
    assert me.customer_id is not None
    prefs = service.preferences(session=session, customer_id=me.customer_id)
    items = [
        {
            "at": n.created_at,
            "kind": n.kind,
            "order_number": n.order_number,
            "unread": n.read_at is None,
            "subject": rules.in_language(prefs.locale, n.subject_en, n.subject_zh),
            "body": rules.in_language(prefs.locale, n.body_en, n.body_zh),
            "link": n.link,
        }
        for n in service.inbox(session=session, customer_id=me.customer_id)
    ]
    page = _render(request, "notices/inbox.html", {"items": items})
    service.mark_read(session=session, customer_id=me.customer_id)
    return page


@router.get("/me/notice-settings")
def settings_page(request: Request, session: DbSession, me: CurrentCustomer) -> Response:
    """How I want notices."""
    assert me.customer_id is not None
    prefs = service.preferences(session=session, customer_id=me.customer_id)
    return _render(
        request, "notices/settings.html", _form(prefs.locale, prefs.email, prefs.email_on, prefs.sms_on)
    )


@router.post("/me/notice-settings")
def save_settings(
    request: Request,
    session: DbSession,
    me: FormCustomer,
    locale: Annotated[str, Form(max_length=8)] = "zh_CN",
    email: Annotated[str, Form(max_length=300)] = "",
    email_on: Annotated[str, Form(max_length=8)] = "",
    sms_on: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Save how I want notices (a wrong address shows the form again with the reason)."""
    assert me.customer_id is not None
    try:
        service.set_preferences(
            session=session,
            customer_id=me.customer_id,
            locale=locale,
            email=email,
            email_on=bool(email_on),
            sms_on=bool(sms_on),
        )
    except PolicyViolation as exc:
        context = _form(locale, email, bool(email_on), bool(sms_on))
        context["error"] = translate_message(request.state.locale, exc.message)
        return _render(request, "notices/settings.html", context, status_code=422)
    return RedirectResponse("/me/notice-settings?saved=1", status_code=303)


def _form(locale: str, email: str, email_on: bool, sms_on: bool) -> dict[str, Any]:
    return {"locale": locale, "email": email[:200], "email_on": email_on, "sms_on": sms_on, "error": ""}
