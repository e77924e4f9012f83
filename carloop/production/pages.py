"""Production pages: the delivery card of an order, the configurator's ETA quote, the staff plan page.

Two snippets live in other domains' pages, and those pages' handlers hand them their data (templates
call no service): the configurator passes ``eta`` (``eta.eta_for_quote``) to
``production/_eta_quote.html``, the order page passes ``tracking`` (``eta.tracking``) to
``production/_order_delivery.html``, which falls back to a frame of ``/orders/<number>/delivery``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog import service as catalog
from carloop.errors import PolicyViolation
from carloop.production import eta, plan_form, rules, service, triggers
from carloop.production.models import Run, Slot
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
    legend = [{**_family_names(f), "color": palette[i % len(palette)]} for i, f in enumerate(families)]
    y_ticks = [{"y": height - v / top * height, "label": f"{v:,}"} for v in (0, top // 2, top)]
    x_ticks = [
        {"x": w * bar + bar / 2, "label": rules.week_start(week0 + w).strftime("%m-%d")}
        for w in range(0, horizon, max(1, horizon // 8))
    ]
    return {
        "width": width,
        "height": height,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
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
    draft: dict[str, Any] | None = None,
    draft_json: str | None = None,
    problems: list[str] | None = None,
) -> Response:
    # Before HQ's first plan the form starts from the sample plan, as a draft (nothing is in force).
    version, plan = service.plan_in_force(session=session) or (0, rules.sample_plan(service.today()))
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
            "form": draft if draft is not None else plan_form.rows_of(plan),
            "plan_json": draft_json if draft_json is not None else plan.model_dump_json(indent=2),
            "chart": _chart(session, plan, week0),
            "runs": [(r, _trigger(r, request.state.locale)) for r in service.runs(session=session)],
            "moves": moves,
            "history": service.plan_history(session=session),
            "problems": problems or [],
        },
        status_code=422 if problems else 200,
    )


def _trigger(run: Run, locale: str) -> tuple[str, dict[str, str]]:
    """What started an allocation run, as its msgid and values in the locale (the template words it)."""
    return triggers.message(run.trigger_kind), triggers.values(run.trigger_kind, run.trigger_params, locale)


async def _posted(request: Request) -> dict[str, str]:
    """The posted form's text fields (the plan form has a field per cell)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/staff/production/plan")
def staff_save_plan(
    request: Request,
    session: DbSession,
    me: PlanStaff,
    posted: Annotated[dict[str, str], Depends(_posted)],
) -> Response:
    """Save an edited plan (the form, or JSON under "advanced") as a new version and re-plan.

    A refused plan is shown back as typed, with what is wrong.
    """
    check_csrf(request, posted.get("csrf_token"))
    reason = posted.get("reason", "")[:200]
    as_json = "plan" in posted
    try:
        if as_json:
            data = PlanData.model_validate_json(posted["plan"][:100_000])
        else:
            data = PlanData.model_validate(plan_form.plan_from_form(posted))
        if len(reason.strip()) < 3:
            raise PolicyViolation("Say why the plan changes.")
    except (ValidationError, PolicyViolation) as err:
        if isinstance(err, ValidationError):
            problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        else:
            problems = [err.message]
        return _staff_page(
            request,
            session,
            me,
            draft=None if as_json else plan_form.rows_of_form(posted),
            draft_json=posted["plan"] if as_json else None,
            problems=problems,
        )
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


def _family_names(family: str) -> dict[str, str]:
    """A chart family ("su7/pro") as the trim's names in both languages (the code if unknown)."""
    model_code, _, trim_code = family.partition("/")
    model = catalog.current_catalog().models.get(model_code)
    trim = model.trims.get(trim_code) if model is not None else None
    if trim is None:
        return {"name": family, "label_en": family, "label_zh": family}
    return {"name": family, "label_en": trim.name_en, "label_zh": trim.name_zh}
