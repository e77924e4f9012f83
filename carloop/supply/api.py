"""The suppliers' API: EDI-like JSON signed with the supplier's key, idempotent by ``Idempotency-Key``.

Each request carries ``X-Supplier`` (the supplier's code), ``X-Timestamp`` (Unix seconds) and
``X-Signature``: hex HMAC-SHA256 under the supplier's key of ``timestamp\\nMETHOD\\npath\\n`` and the raw
body (``supply.rules.sign``). A wrong or stale signature is a 401; a replay of a POST with the same key and
body returns the first answer; the same key with another body is a 409.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from carloop.clock import utcnow
from carloop.errors import AuthenticationFailed, Conflict, ErrorCode, PolicyViolation
from carloop.production import rules as production_rules
from carloop.supply import rules, service
from carloop.supply.models import ApiRequest, Confirmation, Supplier
from carloop.supply.schemas import (
    ConfirmationCreate,
    ConfirmationRead,
    ForecastRead,
    PartForecastRead,
    ShortageCreate,
    ShortageRead,
    WeekRead,
)
from carloop.web.deps import DbSession

router = APIRouter(prefix="/supplier", tags=["supply"])

BAD_SIGNATURE = "The request signature is not valid."
T = TypeVar("T", bound=BaseModel)


async def _body(request: Request) -> bytes:
    return await request.body()


def signed_supplier(
    request: Request,
    session: DbSession,
    body: Annotated[bytes, Depends(_body)],
    x_supplier: Annotated[str, Header(max_length=40)] = "",
    x_timestamp: Annotated[str, Header(max_length=20)] = "",
    x_signature: Annotated[str, Header(max_length=128)] = "",
) -> Supplier:
    """The supplier whose key signed this request; 401 for anything else (unknown, stale, wrong)."""
    supplier = service.by_code(session=session, code=x_supplier) if x_supplier else None
    ok = supplier is not None and rules.fresh(x_timestamp, utcnow())
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    key = supplier.api_key if supplier is not None else "-"
    signed = rules.signature_ok(
        key, x_signature, timestamp=x_timestamp, method=request.method, path=path, body=body
    )
    if supplier is None or not ok or not signed:
        raise AuthenticationFailed(BAD_SIGNATURE)
    return supplier


SignedSupplier = Annotated[Supplier, Depends(signed_supplier)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=80)]


def _parse(model: type[T], body: bytes) -> T:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise PolicyViolation(f"The field {where} is not valid: {first['msg']}.", field=where) from err


def _replayed(session: Session, supplier: Supplier, key: str, digest: str) -> JSONResponse | None:
    found = session.scalar(
        select(ApiRequest).where(ApiRequest.supplier_id == supplier.id, ApiRequest.key == key)
    )
    if found is None:
        return None
    if found.digest != digest:
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            code=ErrorCode.IDEMPOTENCY_MISMATCH,
        )
    return JSONResponse(found.response, status_code=found.status_code, headers={"Idempotent-Replay": "true"})


def _answer(session: Session, supplier: Supplier, key: str, digest: str, body: BaseModel) -> JSONResponse:
    data = body.model_dump(mode="json")
    session.add(ApiRequest(supplier_id=supplier.id, key=key, digest=digest, status_code=201, response=data))
    session.flush()
    return JSONResponse(data, status_code=201)


def _read(c: Confirmation) -> ConfirmationRead:
    return ConfirmationRead(
        part=c.part,
        week=production_rules.week_start(c.week),
        quantity=c.quantity,
        demand=c.demand,
        late=c.late,
        changes=c.changes,
        capped=c.quantity < c.demand,
        plan_version=c.plan_version,
    )


@router.get("/forecast")
def forecast(session: DbSession, supplier: SignedSupplier) -> ForecastRead:
    """The supplier's parts and their demand for the coming weeks."""
    parts, conversion = service.forecast(session=session, supplier=supplier)
    return ForecastRead(
        supplier=supplier.code,
        conversion=conversion.rate,
        parts=[
            PartForecastRead(
                part=pf.part.code,
                name_en=pf.part.name_en,
                name_zh=pf.part.name_zh,
                weeks=[
                    WeekRead(
                        week=w.monday,
                        firm=w.firm,
                        likely=w.likely if conversion.rate is not None else None,
                        confirmed=w.confirmed,
                        late=w.late,
                        cap=w.cap,
                        deadline=w.deadline,
                    )
                    for w in pf.weeks
                ],
            )
            for pf in parts
        ],
    )


def _idempotent(
    session: Session,
    supplier: Supplier,
    key: str,
    body: bytes,
    schema: type[T],
    act: Callable[[T], BaseModel],
) -> JSONResponse:
    """One POST: the first answer again for a replay, else the body parsed, acted on and remembered."""
    digest = hashlib.sha256(body).hexdigest()
    replay = _replayed(session, supplier, key, digest)
    if replay is not None:
        return replay
    return _answer(session, supplier, key, digest, act(_parse(schema, body)))


@router.post("/confirmations", status_code=201, response_model=ConfirmationRead)
def confirm(
    request: Request,
    session: DbSession,
    supplier: SignedSupplier,
    body: Annotated[bytes, Depends(_body)],
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Confirm (or change) the quantity of a part delivered in a week; below demand caps the plan."""

    def act(data: ConfirmationCreate) -> ConfirmationRead:
        row = service.confirm(
            session=session,
            supplier=supplier,
            part_code=data.part,
            week=production_rules.week_of(data.week),
            quantity=data.quantity,
            actor=service.SupplierSystem(supplier.code),
            reason=data.reason,
            ip=request.client.host if request.client else None,
        )
        return _read(row)

    return _idempotent(session, supplier, idempotency_key, body, ConfirmationCreate, act)


@router.post("/shortages", status_code=201, response_model=ShortageRead)
def flag(
    request: Request,
    session: DbSession,
    supplier: SignedSupplier,
    body: Annotated[bytes, Depends(_body)],
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Flag a shortage until a recovery week: each week in between is confirmed short and capped."""

    def act(data: ShortageCreate) -> ShortageRead:
        shortage = service.flag_shortage(
            session=session,
            supplier=supplier,
            part_code=data.part,
            from_week=production_rules.week_of(data.from_week),
            recovery_week=production_rules.week_of(data.recovery_week),
            share=data.short_share,
            reason=data.reason,
            actor=service.SupplierSystem(supplier.code),
            ip=request.client.host if request.client else None,
        )
        weeks = session.scalars(
            select(Confirmation).where(Confirmation.shortage_id == shortage.id).order_by(Confirmation.week)
        )
        return ShortageRead(
            id=shortage.id,
            part=shortage.part,
            from_week=production_rules.week_start(shortage.from_week),
            recovery_week=production_rules.week_start(shortage.recovery_week),
            short_share=shortage.share,
            weeks=[_read(c) for c in weeks],
        )

    return _idempotent(session, supplier, idempotency_key, body, ShortageCreate, act)
