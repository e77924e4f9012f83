"""Reconciliation at the edge: HQ finance's staff page (list, resolve with an audited note, CSRF) and
the daily job that reconciles yesterday for every configured provider that can."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.clock import SHANGHAI
from carloop.errors import DomainError, PermissionDenied
from carloop.jobs.registry import Job
from carloop.jobs.rules import JobResult
from carloop.payments import reconciliation
from carloop.payments.providers import ProviderSet
from carloop.payments.providers.base import PaymentProvider, Reconcilable
from carloop.web.captures import CAPTURE_HANDLERS, LOCK_FIRST
from carloop.web.deps import CurrentStaff, DbSession, FormStaff

router = APIRouter()
FINANCE_ROLES = (Role.HQ_FINANCE, Role.ADMIN)
log = logging.getLogger("carloop.payments.reconciliation")


def _finance(staff: Principal) -> Principal:
    if staff.role not in FINANCE_ROLES:
        raise PermissionDenied("Only HQ finance or an admin may see reconciliation.")
    return staff


def _page(request: Request, session: Session, show: str, error: str = "", status: int = 200) -> Response:
    rows = reconciliation.differences(session=session, status=None if show == "all" else show)
    return request.app.state.renderer.render(
        request,
        "payments/reconciliation.html",
        {"rows": rows, "show": show, "error": error},
        status_code=status,
    )


@router.get("/staff/reconciliation")
def reconciliation_page(
    request: Request, session: DbSession, staff: CurrentStaff, show: str = "open"
) -> Response:
    """The differences the daily reconciliation found (open ones first), for HQ finance (audited as a
    view: it shows payments)."""
    _finance(staff)
    show = show if show in ("open", "fixed", "resolved", "all") else "open"
    audit.record(
        session=session,
        principal=staff,
        action="payment.reconciliation_view",
        target_type="reconciliation",
        target_id=show,
        ip=request.client.host if request.client else None,
    )
    return _page(request, session, show)


@router.post("/staff/reconciliation/{difference_id}/resolve")
def resolve_difference(
    difference_id: int,
    request: Request,
    session: DbSession,
    staff: FormStaff,
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    """Close a difference with a note saying what was done about it (audited)."""
    _finance(staff)
    try:
        with session.begin_nested():
            reconciliation.resolve(
                session=session,
                principal=staff,
                difference_id=difference_id,
                note=note,
                ip=request.client.host if request.client else None,
            )
    except DomainError as err:
        if err.code == "not-found":
            raise
        return _page(request, session, "open", err.message, 422)
    return RedirectResponse("/staff/reconciliation", status_code=303)


def reconcilable(provider: PaymentProvider) -> list[Reconcilable]:
    """The configured providers that publish a daily statement and answer order queries."""
    members = [provider.get(n) for n in provider.names] if isinstance(provider, ProviderSet) else [provider]
    return [p for p in members if p is not None and isinstance(p, Reconcilable)]


def daily_job(provider: PaymentProvider) -> Job:
    """The job reconciling yesterday (Beijing) once a day, each provider in its own transaction."""

    def run(sessions: sessionmaker[Session], now: datetime) -> JobResult:
        day = (now.astimezone(SHANGHAI) - timedelta(days=1)).date()
        found, failures = 0, []
        for each in reconcilable(provider):
            try:
                with sessions.begin() as session:
                    report = reconciliation.reconcile(
                        session=session,
                        provider=each,
                        day=day,
                        handlers=CAPTURE_HANDLERS,
                        lock_first=LOCK_FIRST,
                    )
                found += len(report.differences)
            except DomainError as err:
                log.warning("reconciliation of %s for %s failed: %s", each.name, day, err.message)
                failures.append(f"{each.name}: {err.message}")
        if failures:
            return JobResult.failed("; ".join(failures))
        return JobResult.ok(f"{day}: {found} differences")

    return Job("payments_reconcile", timedelta(days=1), run, "Reconcile yesterday's provider statements")
