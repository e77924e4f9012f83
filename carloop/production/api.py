"""Production API: ETA quotes (public), order tracking (owner), the plan, runs and stages (staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from carloop.accounts.schemas import Principal, Role
from carloop.audit import service as audit
from carloop.catalog.schemas import ConfigurationIn
from carloop.ordering import service as ordering
from carloop.production import eta as estimates
from carloop.production import inventory, rules, service, triggers
from carloop.production.models import Run
from carloop.production.schemas import (
    EtaQuote,
    InventoryCarRead,
    NoticeRead,
    PlanRead,
    PlanUpdate,
    ReconfigurePreview,
    RunRead,
    StageAdvance,
    TrackingRead,
)
from carloop.web.deps import CurrentCustomer, CurrentPrincipal, DbSession, require_roles

router = APIRouter(tags=["production"])
PlanStaff = Annotated[Principal, require_roles(Role.HQ_OPS, Role.ADMIN)]


@router.post("/production/eta", response_model=EtaQuote)
def eta(config: ConfigurationIn, session: DbSession) -> EtaQuote:
    """The delivery window this configuration would get if it were ordered and locked now."""
    return estimates.eta(session=session, config=config)


@router.get("/production/eta", response_model=EtaQuote)
def eta_get(
    session: DbSession,
    model: Annotated[str, Query(min_length=1, max_length=40)],
    trim: Annotated[str, Query(min_length=1, max_length=40)],
    option: Annotated[list[str] | None, Query(max_length=60)] = None,
) -> EtaQuote:
    """The same quote for query parameters (``?model=su7&trim=pro&option=paint-aqua-blue``)."""
    config = ConfigurationIn(model=model, trim=trim, options=option or [])
    return estimates.eta(session=session, config=config)


@router.get("/production/orders/{number}", response_model=TrackingRead)
def order_tracking(number: str, request: Request, session: DbSession, me: CurrentPrincipal) -> TrackingRead:
    """An order's delivery window, first promised window, stages with timestamps, VIN and moves."""
    ip = request.client.host if request.client else None
    return estimates.tracking_for(session=session, principal=me, number=number, ip=ip)


@router.post("/production/orders/{number}/reconfigure-preview", response_model=ReconfigurePreview)
def reconfigure_preview(
    number: str, config: ConfigurationIn, session: DbSession, me: CurrentCustomer
) -> ReconfigurePreview:
    """The queue position and window a post-lock configuration change would give, before confirming it."""
    order = ordering.get_for(session=session, principal=me, number=number)
    return estimates.reconfigure_preview(session=session, order=order, config=config)


@router.get("/production/inventory", response_model=list[InventoryCarRead])
def list_inventory(request: Request, session: DbSession, me: PlanStaff) -> list[InventoryCarRead]:
    """Built cars whose order was cancelled: offered on, available, or sold (audited: it names orders)."""
    cars = [
        InventoryCarRead.model_validate(c, from_attributes=True) for c in inventory.stock(session=session)
    ]
    audit.record(
        session=session,
        principal=me,
        action="production.inventory.view",
        target_type="order",
        target_id="*",
        detail={"offered_order_ids": [c.offered_order_id for c in cars if c.offered_order_id][:50]},
        ip=request.client.host if request.client else None,
    )
    return cars


@router.post("/production/inventory/{car_id}/accept", response_model=TrackingRead)
def accept_car(car_id: int, number: str, session: DbSession, me: CurrentCustomer) -> TrackingRead:
    """Take the built car offered to one of my orders (within its 72 hours)."""
    order = ordering.get_for(session=session, principal=me, number=number, for_update=True)
    inventory.accept(session=session, car_id=car_id, order=order, actor=me.actor)
    return estimates.tracking(session=session, order=order)


@router.get("/production/notices", response_model=list[NoticeRead])
def my_notices(session: DbSession, me: CurrentCustomer) -> list[NoticeRead]:
    """The signed-in buyer's delivery notices, newest first."""
    assert me.customer_id is not None  # require_customer guarantees it
    return [
        NoticeRead(
            id=n.id,
            order_number=n.order_number,
            kind=n.kind,
            message_en=n.body_en,
            message_zh=n.body_zh,
            created_at=n.created_at,
        )
        for n in service.notices_for(session=session, customer_id=me.customer_id)
    ]


@router.get("/production/plan", response_model=PlanRead)
def get_plan(session: DbSession, me: PlanStaff) -> PlanRead:
    """The production plan in force."""
    service.current_plan(session=session)  # a Conflict until HQ saves the first plan
    row = service.plan_history(session=session, limit=1)[0]
    return PlanRead.model_validate(
        {
            "version": row.version,
            "reason": row.reason,
            "actor": row.actor,
            "created_at": row.created_at,
            "plan": row.data,
        }
    )


@router.put("/production/plan", response_model=RunRead)
def put_plan(update: PlanUpdate, request: Request, session: DbSession, me: PlanStaff) -> RunRead:
    """Store a new plan version and re-plan; orders only move later when capacity is cut (and are told)."""
    run = service.save_plan(session=session, plan=update.plan, reason=update.reason, actor=me.actor)
    audit.record(
        session=session,
        principal=me,
        action="production.plan",
        target_type="plan",
        target_id=str(run.plan_version),
        detail={"reason": update.reason, "moved_later": run.moved_later, "moved_earlier": run.moved_earlier},
        ip=request.client.host if request.client else None,
    )
    return _run_read(run)


def _run_read(run: Run) -> RunRead:
    """A run as the API shows it: its trigger's kind and values, and their English wording."""
    return RunRead(
        id=run.id,
        at=run.at,
        trigger=triggers.english(run.trigger_kind, run.trigger_params),
        trigger_kind=run.trigger_kind,
        trigger_params=run.trigger_params,
        plan_version=run.plan_version,
        orders=run.orders,
        moved_earlier=run.moved_earlier,
        moved_later=run.moved_later,
        millis=run.millis,
    )


@router.get("/production/runs", response_model=list[RunRead])
def list_runs(session: DbSession, me: PlanStaff) -> list[RunRead]:
    """The latest allocation runs."""
    return [_run_read(r) for r in service.runs(session=session)]


@router.post("/production/orders/{number}/stage", response_model=TrackingRead)
def advance(
    number: str, body: StageAdvance, request: Request, session: DbSession, me: PlanStaff
) -> TrackingRead:
    """Record a production or logistics stage of an order (building it assigns the VIN)."""
    order = service.advance_stage(
        session=session, number=number, stage=rules.Stage(body.stage), actor=me.actor
    )
    audit.record(
        session=session,
        principal=me,
        action="production.stage",
        target_type="order",
        target_id=number,
        detail={"stage": body.stage},
        ip=request.client.host if request.client else None,
    )
    return estimates.tracking(session=session, order=order)
