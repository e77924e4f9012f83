"""A short confirmation caps the plan: orders move later with the part as reason; buyers are told."""

from __future__ import annotations

import pytest
from builders.supply import battery_plan, supplier
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts.schemas import Principal, Role
from carloop.audit.models import AuditEntry
from carloop.errors import NotFound, PolicyViolation
from carloop.notices.models import Notice
from carloop.production import rules as production_rules
from carloop.production import service as production
from carloop.production.models import PromiseChange, Run, Slot
from carloop.supply import service
from carloop.supply.models import Confirmation, SupplierUser
from carloop.web.i18n import translate_message
from integration.production.conftest import locked_order, run_events, use_plan

REASON = "Supply shortage: 101 kWh battery pack"


def _user(session: Session, code: str) -> Principal:
    found = service.by_code(session=session, code=code)
    assert found is not None
    user = session.scalar(select(SupplierUser).where(SupplierUser.supplier_id == found.id))
    assert user is not None
    return Principal(role=Role.SUPPLIER, staff_id=user.staff_id)


def _ten_max_orders(factory: sessionmaker[Session]) -> list[str]:
    use_plan(factory, battery_plan(weekly=10))
    numbers = [locked_order(factory, phone=f"138001380{i:02d}", trim="max") for i in range(10)]
    run_events(factory)
    return numbers


def test_a_confirmation_30_percent_short_moves_the_last_locked_orders_and_tells_their_buyers(
    session_factory: sessionmaker[Session],
) -> None:
    numbers = _ten_max_orders(session_factory)
    week0 = production_rules.week_of(production.today())
    with session_factory.begin() as session:
        supplier(session)
        me = _user(session, "ningde-cells")
        ningde = service.supplier_of(session=session, principal=me)
        parts, _ = service.forecast(session=session, supplier=ningde)
        battery = next(p for p in parts if p.part.code == "battery-101kwh")
        assert battery.weeks[0].firm == 10
        service.confirm(
            session=session, supplier=ningde, part_code="battery-101kwh", week=week0, quantity=7, actor=me
        )
    with session_factory() as session:
        slots = {s.number: s for s in session.scalars(select(Slot))}
        assert [slots[n].planned_week for n in numbers] == [week0] * 7 + [week0 + 1] * 3
        moved = list(session.scalars(select(PromiseChange).where(PromiseChange.later.is_(True))))
        assert sorted(c.order_id for c in moved) == sorted(slots[n].order_id for n in numbers[7:])
        assert {c.reason for c in moved} == {REASON}
        told = list(session.scalars(select(Notice).where(Notice.kind == "window_later")))
        assert sorted(n.order_id or 0 for n in told) == sorted(slots[n].order_id for n in numbers[7:])
        assert all(REASON in n.body_en for n in told)
        assert all("原因：零部件供应短缺：101 kWh 电池包。" in n.body_zh for n in told)
        assert not [n.body_zh for n in told if "Supply" in n.body_zh or "battery" in n.body_zh]
        confirmation = session.scalar(select(Confirmation))
        assert confirmation is not None and confirmation.late and confirmation.demand == 10
        view = service.shortages(session=session)
        assert len(view) == 1 and view[0].supplier.code == "ningde-cells"
        assert sorted(number for number, _ in view[0].moved) == sorted(numbers[7:])
        actions = [a.action for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert "supply.confirmed" in actions
        _, plan = production.current_plan(session=session)
        assert any(o.target == "battery-101" and o.reason == REASON for o in plan.outages)


def test_a_change_back_to_full_supply_lifts_the_cap_and_is_audited_as_a_change(
    session_factory: sessionmaker[Session],
) -> None:
    numbers = _ten_max_orders(session_factory)
    week0 = production_rules.week_of(production.today())
    with session_factory.begin() as session:
        supplier(session)
        me = _user(session, "ningde-cells")
        ningde = service.supplier_of(session=session, principal=me)
        service.confirm(
            session=session, supplier=ningde, part_code="battery-101kwh", week=week0, quantity=5, actor=me
        )
    with session_factory.begin() as session:
        ningde = service.supplier_of(session=session, principal=me)
        row = service.confirm(
            session=session, supplier=ningde, part_code="battery-101kwh", week=week0, quantity=10, actor=me
        )
        assert row.changes == 1
    with session_factory() as session:
        _, plan = production.current_plan(session=session)
        assert not [o for o in plan.outages if o.reason == REASON]
        slots = {s.number: s for s in session.scalars(select(Slot))}
        assert [slots[n].planned_week for n in numbers] == [week0] * 10
        back = list(session.scalars(select(PromiseChange).where(PromiseChange.later.is_(False))))
        # Buyers read which part is back, never which supplier makes it; staff see the supplier on the run.
        assert back and {c.reason for c in back} == {"Supply restored: 101 kWh battery pack"}
        assert {translate_message("zh_CN", c.reason) for c in back} == {"零部件恢复供应：101 kWh 电池包"}
        runs = {r.id: r for r in session.scalars(select(Run))}
        restored = runs[back[0].run_id]
        assert all(c.run_id == restored.id for c in back)
        assert restored.trigger_kind == "supply_restored"
        assert restored.trigger_params == {
            "supplier": "ningde-cells",
            "part": "battery-101kwh",
            "week": production_rules.week_start(week0).isoformat(),
            "version": restored.plan_version,
        }
        assert not [c for c in back if "ningde" in c.reason]
        changed = session.scalar(select(AuditEntry).where(AuditEntry.action == "supply.changed"))
        assert changed is not None and changed.detail["before"] == 5 and changed.detail["quantity"] == 10


def test_a_shortage_flag_caps_every_week_until_recovery(session_factory: sessionmaker[Session]) -> None:
    use_plan(session_factory, battery_plan(weekly=10))
    for i in range(25):
        locked_order(session_factory, phone=f"139001390{i:02d}", trim="max")
    run_events(session_factory)
    week0 = production_rules.week_of(production.today())
    with session_factory.begin() as session:
        supplier(session)
        me = _user(session, "ningde-cells")
        ningde = service.supplier_of(session=session, principal=me)
        service.flag_shortage(
            session=session,
            supplier=ningde,
            part_code="battery-101kwh",
            from_week=week0,
            recovery_week=week0 + 2,
            share=0.3,
            reason="cell plant fire",
            actor=me,
        )
    with session_factory() as session:
        rows = list(session.scalars(select(Confirmation).order_by(Confirmation.week)))
        assert [(r.week - week0, r.quantity, r.demand) for r in rows] == [(0, 7, 10), (1, 7, 10)]
        weeks = [s.planned_week for s in session.scalars(select(Slot))]
        assert weeks.count(week0) == 7 and weeks.count(week0 + 1) == 7


def test_another_suppliers_part_is_not_found_and_non_suppliers_have_no_portal(
    session_factory: sessionmaker[Session],
) -> None:
    _ten_max_orders(session_factory)
    week0 = production_rules.week_of(production.today())
    with session_factory.begin() as session:
        supplier(session)
        supplier(session, code="hesai-optics", username="hesai")
        hesai = service.supplier_of(session=session, principal=_user(session, "hesai-optics"))
        with pytest.raises(NotFound):
            service.confirm(
                session=session,
                supplier=hesai,
                part_code="battery-101kwh",
                week=week0,
                quantity=1,
                actor=_user(session, "hesai-optics"),
            )
        with pytest.raises(NotFound):
            service.supplier_of(session=session, principal=Principal(role=Role.HQ_OPS, staff_id=1))
        parts, _ = service.forecast(session=session, supplier=hesai)
        assert [p.part.code for p in parts] == ["lidar"]
        with pytest.raises(PolicyViolation):
            service.confirm(
                session=session,
                supplier=hesai,
                part_code="lidar",
                week=week0 + 500,
                quantity=1,
                actor=_user(session, "hesai-optics"),
            )
