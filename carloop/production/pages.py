"""Production pages: the delivery card of an order, the configurator's ETA quote, the staff plan page.

Two snippets live in other domains' pages, and those pages' handlers hand them their data (templates
call no service): the configurator passes ``eta`` (``eta.eta_for_quote``) to
``production/_eta_quote.html``, the order page passes ``tracking`` (``eta.tracking``) to
``production/_order_delivery.html``, which falls back to a frame of ``/orders/<number>/delivery``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.errors import PolicyViolation
from carloop.production import eta, rules, service
from carloop.production.models import Slot
from carloop.production.schemas import PlanData
from carloop.web.deps import CurrentPrincipal, DbSession, check_csrf, require_roles

PlanStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


router = APIRouter()


def _render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    return request.app.state.renderer.render(request, template, context, status_code=status_code)


@router.get("/orders/{number}/delivery")
def delivery_card(number: str, request: Request, session: DbSession, me: CurrentPrincipal) -> Response:
    """An order's delivery window and production stages (shown inside the order page)."""
    ip = request.client.host if request.client else None
    tracked = eta.tracking_for(session=session, principal=me, number=number, via="page", ip=ip)
    return _render(request, "production/delivery.html", {"t": tracked})


def _chart(session: Any, plan: PlanData, week0: int) -> dict[str, Any]:
    """Capacity and locked demand by week (stacked by configuration family) as SVG geometry."""
    horizon = plan.horizon_weeks
    capacity = rules.capacity_matrix(plan, week0, horizon)[: len(plan.lines)].sum(axis=0)
    rows = session.execute(
        select(Slot.model, Slot.trim, Slot.planned_week, func.count())
        .where(Slot.active.is_(True), Slot.built.is_(False), Slot.planned_week.is_not(None))
        .group_by(Slot.model, Slot.trim, Slot.planned_week)
    ).all()
    beyond = session.scalar(
        select(func.count()).select_from(Slot).where(Slot.active.is_(True), Slot.planned_week.is_(None))
    )
    families = sorted({f"{m}/{t}" for m, t, _, _ in rows})
    demand = {f: [0] * horizon for f in families}
    for m, t, week, count in rows:
        rel = int(week) - week0
        if 0 <= rel < horizon:
            demand[f"{m}/{t}"][rel] += int(count)
    top = max(
        [
            int(capacity.max()) if horizon else 1,
            *[sum(d[w] for d in demand.values()) for w in range(horizon)],
            1,
        ]
    )
    width, height, bar = 860, 240, 860 / max(horizon, 1)
    palette = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4d7c0f", "#be185d"]
    rects = []
    for w in range(horizon):
        y = float(height)
        for i, family in enumerate(families):
            value = demand[family][w]
            if value:
                h = value / top * height
                y -= h
                rects.append(
                    {
                        "x": w * bar + 1,
                        "y": y,
                        "w": bar - 2,
                        "h": h,
                        "color": palette[i % len(palette)],
                        "title": f"{rules.week_start(week0 + w)} {family}: {value}",
                    }
                )
    points = " ".join(
        f"{w * bar + bar / 2:.1f},{height - int(capacity[w]) / top * height:.1f}" for w in range(horizon)
    )
    legend = [{"name": f, "color": palette[i % len(palette)]} for i, f in enumerate(families)]
    return {
        "width": width,
        "height": height,
        "rects": rects,
        "points": points,
        "legend": legend,
        "top": top,
        "beyond": int(beyond or 0),
        "first": rules.week_start(week0),
        "weeks": horizon,
    }


@router.get("/staff/production")
def staff_production(request: Request, session: DbSession, me: PlanStaff) -> Response:
    """Capacity vs. locked demand by week, the allocation runs, moved promises, and the plan editor."""
    audit.record(
        session=session,
        principal=me,
        action="production.moves.view",
        target_type="order",
        target_id="*",
        detail={"via": "page"},
        ip=request.client.host if request.client else None,
    )
    return _staff_page(request, session, me)


def _staff_page(
    request: Request,
    session: Any,
    me: Principal,
    *,
    draft: str | None = None,
    problems: list[str] | None = None,
) -> Response:
    version, plan = service.current_plan(session=session)
    week0 = rules.week_of(service.today())
    numbers = dict(session.execute(select(Slot.order_id, Slot.number)).all())
    moves = [
        {"number": numbers.get(c.order_id, "?"), "change": c} for c in service.moved_orders(session=session)
    ]
    return _render(
        request,
        "production/staff.html",
        {
            "version": version,
            "plan_json": draft if draft is not None else plan.model_dump_json(indent=2),
            "chart": _chart(session, plan, week0),
            "runs": service.runs(session=session),
            "moves": moves,
            "history": service.plan_history(session=session),
            "problems": problems or [],
        },
        status_code=422 if problems else 200,
    )


@router.post("/staff/production/plan")
def staff_save_plan(
    request: Request,
    session: DbSession,
    me: PlanStaff,
    csrf_token: Annotated[str, Form()],
    plan: Annotated[str, Form(max_length=100_000)],
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Save an edited plan as a new version and re-plan (a broken plan is shown back with its errors)."""
    check_csrf(request, csrf_token)
    try:
        data = PlanData.model_validate_json(plan)
        if len(reason.strip()) < 3:
            raise PolicyViolation("Say why the plan changes.")
    except ValidationError as err:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        return _staff_page(request, session, me, draft=plan, problems=problems)
    except PolicyViolation as err:
        return _staff_page(request, session, me, draft=plan, problems=[err.message])
    run = service.save_plan(session=session, plan=data, reason=reason.strip(), actor=me.actor)
    audit.record(
        session=session,
        principal=me,
        action="production.plan",
        target_type="plan",
        target_id=str(run.plan_version),
        detail={"reason": reason.strip(), "moved_later": run.moved_later, "via": "page"},
        ip=request.client.host if request.client else None,
    )
    return RedirectResponse("/staff/production", status_code=303)
