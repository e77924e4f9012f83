"""Funnel capture, the order-event handler, market import and the warehouse on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.accounts import service as accounts
from carloop.analytics import handlers, service
from carloop.analytics.models import FunnelEvent
from carloop.analytics.rules import Channel, Gender, Stage
from carloop.analytics.warehouse import Filters, Warehouse, dashboard
from carloop.bench import launch_data as simulate
from carloop.catalog.schemas import ConfigurationIn
from carloop.errors import PolicyViolation
from carloop.ordering import service as ordering
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.payments.providers.simulator import SimulatorProvider


def _events(session: Session, order_id: int | None = None) -> list[FunnelEvent]:
    query = select(FunnelEvent).order_by(FunnelEvent.id)
    if order_id is not None:
        query = query.where(FunnelEvent.order_id == order_id)
    return list(session.scalars(query))


def test_capture_buckets_attributes_and_records_an_order_stage_once(session: Session) -> None:
    first = service.capture(
        session=session, stage=Stage.PAID, channel=Channel.APP, anon_id="a" * 40, order_id=7, city="Chengdu",
        age=31, gender=Gender.FEMALE, model="su7", trim="pro",
    )  # fmt: skip
    again = service.capture(session=session, stage=Stage.PAID, channel=Channel.WEB, anon_id="b", order_id=7)
    assert first is not None and again is None
    assert (first.city, first.province, first.city_tier) == ("Chengdu", "Sichuan", "new_tier1")
    assert (first.age_band, first.gender, len(first.anon_id)) == ("30-34", "female", 32)
    unknown = service.capture(
        session=session, stage=Stage.MODEL_VIEWED, channel=Channel.WEB, anon_id="c", city="Atlantis"
    )
    assert unknown is not None and unknown.city is None and unknown.city_tier is None


def test_page_hook_stores_a_keyed_hash_never_the_visitor_token(session: Session) -> None:
    event = service.track_page(
        session=session, secret=b"s", visitor="raw-session-token", stage=Stage.MODEL_VIEWED, model="su7"
    )
    assert event is not None and "raw-session-token" not in event.anon_id and len(event.anon_id) == 32


def test_paid_and_refunded_orders_reach_the_funnel_through_the_outbox(
    session_factory: sessionmaker[Session],
) -> None:
    provider = SimulatorProvider(secret="test-secret")
    with session_factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone="13800138000").id
        order = ordering.reserve(
            session=session, customer_id=buyer, config=ConfigurationIn(model="su7", trim="pro")
        )
        service.track_page(
            session=session, secret=b"s", visitor="cookie-1", stage=Stage.RESERVATION_STARTED, model="su7",
            trim="pro", order_id=order.id, total_fen=order.total_fen, channel=Channel.MINI_PROGRAM,
            city="Shanghai",
        )  # fmt: skip
        payment = ordering.start_deposit_payment(
            session=session, provider=provider, order=order, base_url="http://testserver/"
        )
        form = provider.signed_notification(
            trade_no=payment.trade_no, amount_fen=payment.amount_fen, status=NotificationStatus.SUCCEEDED
        )
        ordering.handle_notification(session=session, provider=provider, form=form)
        order_id = order.id
    dispatch(session_factory, handlers.EVENT_HANDLERS)
    with session_factory.begin() as session:
        ordering.cancel(
            session=session,
            provider=provider,
            order=ordering.load(session=session, number=order.number),
            actor="customer:1",
        )
    dispatch(session_factory, handlers.EVENT_HANDLERS)
    dispatch(session_factory, handlers.EVENT_HANDLERS)  # a second pass changes nothing
    with session_factory() as session:
        stages = [(e.stage, e.channel, e.city_tier) for e in _events(session, order_id)]
    assert (Stage.RESERVATION_STARTED, Channel.MINI_PROGRAM, "tier1") in stages
    assert (Stage.PAID, Channel.MINI_PROGRAM, "tier1") in stages
    assert (Stage.REFUNDED, Channel.MINI_PROGRAM, "tier1") in stages
    assert len(stages) == len(set(stages)) == 3


def test_an_order_never_seen_by_the_storefront_still_enters_the_funnel(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        buyer = accounts.get_or_create_customer(session=session, phone="13800138001").id
        order = ordering.reserve(
            session=session, customer_id=buyer, config=ConfigurationIn(model="su7", trim="max")
        )
        payload = {
            "order_id": order.id,
            "number": order.number,
            "from_status": "pending_payment",
            "to_status": "locked",
        }
        service.on_order_status_changed(session, payload)
        service.on_order_status_changed(session, payload)  # replayed: idempotent
        stages = sorted(str(e.stage) for e in _events(session, order.id))
    assert stages == ["locked", "paid", "reservation_started"]


def test_market_csv_import_replaces_months_and_computes_structure(session: Session) -> None:
    rows = service.parse_market_csv(
        "# comment\nmonth,brand,units\n2025-01,A,300\n2025-01,B,100\n2025-02,A,50\n"
    )
    assert service.import_market_sales(session=session, rows=rows, source="test") == 3
    service.import_market_sales(
        session=session, rows=service.parse_market_csv("month,brand,units\n2025-02,B,150\n"), source="t2"
    )
    months = service.market_structure(session=session, brand="B")
    assert [m.month for m in months] == ["2025-01", "2025-02"]
    assert months[0].brand_share == pytest.approx(0.25) and months[0].brand_rank == 2
    assert months[1].shares == {"B": 1.0}  # February was replaced by the second file


@pytest.mark.parametrize(
    "text",
    [
        "brand,units\nA,1\n",
        "month,brand,units\n2025-13,A,1\n",
        "month,brand,units\n2025-01,A,-1\n",
        "month,brand,units\n2025-01,A,1\n2025-01,A,2\n",
        "month,brand,units\n2025-01,,1\n",
    ],
)
def test_bad_market_csv_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(PolicyViolation):
        service.parse_market_csv(text)


def test_the_shipped_market_sample_is_labelled_illustrative_and_parses() -> None:
    text = service.sample_market_csv()
    assert "ILLUSTRATIVE" in text.splitlines()[0] and "NOT REAL" in text.splitlines()[0]
    assert len(service.parse_market_csv(text)) > 100


def test_the_warehouse_mirrors_committed_events_and_answers_the_dashboard(
    session_factory: sessionmaker[Session],
) -> None:
    t0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in China
    with session_factory.begin() as session:
        for i in range(3):
            service.capture(
                session=session,
                stage=Stage.MODEL_VIEWED,
                channel=Channel.APP,
                anon_id=f"v{i}",
                model="su7",
                at=t0,
            )
        for order_id, channel, city in ((1, Channel.APP, "Beijing"), (2, Channel.STORE, "Chengdu")):
            for stage in (Stage.RESERVATION_STARTED, Stage.PAID):
                service.capture(
                    session=session, stage=stage, channel=channel, anon_id=f"o{order_id}", order_id=order_id,
                    model="su7", trim="pro", city=city, age=30, at=t0 + timedelta(minutes=order_id),
                )  # fmt: skip
        service.capture(
            session=session,
            stage=Stage.LOCKED,
            channel=Channel.APP,
            anon_id="o1",
            order_id=1,
            model="su7",
            at=t0 + timedelta(days=1),
        )
        service.capture(
            session=session,
            stage=Stage.DELIVERED,
            channel=Channel.APP,
            anon_id="o1",
            order_id=1,
            model="su7",
            at=t0 + timedelta(days=36),
        )
    warehouse = Warehouse()
    engine = session_factory.kw["bind"]
    assert warehouse.sync(engine) == 9 and warehouse.sync(engine) == 0
    tables = dashboard(warehouse, Filters())
    totals = dict(tables["totals"].rows)
    assert (totals["reservations"], totals["paid"], totals["locked"], totals["delivered"]) == (2, 2, 1, 1)
    assert totals["online_share"] == 0.5
    assert dict((r[0], r[1]) for r in tables["funnel"].rows)["model_viewed"] == 3
    assert tables["launch_curve"].rows[0][0] == datetime(2026, 3, 1, 10, 0)
    assert tables["launch_curve"].rows[0][1:] == [2, 2, 0]
    assert {r[0]: r[1] for r in tables["city_tier"].rows} == {"tier1": 1, "new_tier1": 1}
    assert tables["age_band"].rows == [["30-34", 2]]
    assert tables["lead_time"].rows == [[5, 1]]
    app_only = dashboard(warehouse, Filters(channel=Channel.STORE))
    assert dict(app_only["totals"].rows)["paid"] == 1
    later = dashboard(warehouse, Filters(date_from=date(2026, 3, 2)))
    assert dict(later["totals"].rows)["reservations"] == 0 and dict(later["totals"].rows)["locked"] == 1
    with session_factory.begin() as session:
        service.capture(
            session=session, stage=Stage.CANCELLED, channel=Channel.STORE, anon_id="o2", order_id=2
        )
    assert warehouse.sync(engine) == 1
    assert dict(dashboard(warehouse, Filters())["totals"].rows)["cancelled"] == 1


def test_a_simulated_launch_is_consistent_and_lands_in_the_database(
    session_factory: sessionmaker[Session], tmp_path: object
) -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with session_factory.begin() as session:
        count, warehouse = simulate.launch(session.connection(), orders=400, now=now)
    with session_factory() as session:
        rows = _events(session)
    assert len(rows) == count == warehouse.count()
    assert all(r.simulated for r in rows)
    by_order: dict[int, set[str]] = {}
    for r in rows:
        if r.order_id is not None:
            by_order.setdefault(r.order_id, set()).add(str(r.stage))
    assert len(by_order) == 400
    for stages in by_order.values():
        assert "reservation_started" in stages
        assert not ({"locked", "refunded"} <= stages)
        assert "delivered" not in stages or "locked" in stages
        assert stages - {"reservation_started"} == set() or "paid" in stages
    totals = dict(dashboard(warehouse, Filters())["totals"].rows)
    assert totals["reservations"] == 400 and 0.2 < (totals["online_share"] or 0) < 0.6


def test_suggestion_themes_count_suggestions_and_votes_by_category(session: Session) -> None:
    from carloop.community import service as community
    from carloop.community.rules import Category

    owners = [accounts.get_or_create_customer(session=session, phone=f"1380013800{i}").id for i in range(3)]
    charging = community.create_suggestion(
        session=session,
        author_id=owners[0],
        title="Faster home charging",
        body="",
        category=Category.CHARGING,
    )
    community.create_suggestion(
        session=session, author_id=owners[1], title="Cooler seats", body="", category=Category.CABIN
    )
    community.create_suggestion(
        session=session, author_id=owners[1], title="Softer seats", body="", category=Category.CABIN
    )
    for owner in owners[1:]:
        community.vote(session=session, suggestion=charging, customer_id=owner)
    themes = service.suggestion_themes(session=session)
    assert themes[0][0] == "charging" and themes[0][2] >= 2
    assert themes[1][:2] == ("cabin", 2)
