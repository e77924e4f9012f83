"""Every staff action on orders, payments and accounts appears in the audit log.

The test walks the app's route table: every route a staff member can call (role-protected, or open
to any signed-in principal and so to staff) must be either a CASE below, exercised as staff and
checked for an audit row naming the actor, the action and the target, or listed in OUT_OF_SCOPE with
the reason it neither changes nor reveals an order, a payment or an account. A new staff route fails
``test_every_staff_route_is_classified`` until someone decides which it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from builders.accounts import customer_headers
from builders.production import publish_sample_plan
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from carloop.accounts.demo import seed_demo_accounts
from carloop.audit.models import AuditEntry
from carloop.handlers import all_handlers
from carloop.ordering import service as ordering
from carloop.ordering.rules import OrderStatus
from carloop.outbox.service import dispatch
from carloop.payments.providers.base import NotificationStatus
from carloop.receipts import service as receipts
from carloop.settings import Settings
from carloop.web.app import create_app
from carloop.web.deps import (
    csrf_token_for,
    optional_principal,
    require_customer,
    require_principal,
    require_staff,
)

VIN = "LSJA24U69PS000042"


# --------------------------------------------------------------------------------------- the walk
def _contexts(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI lists flat routes
        flat: Any = [r for r in app.routes if isinstance(r, APIRoute)]
        for route in flat:
            for method in sorted(route.methods or ()):
                yield method, route.path, route.dependant
        return
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods or ()):
                yield method, context.path, context.dependant


def _calls(dependant: Dependant) -> set[Any]:
    found: set[Any] = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _calls(sub)
    return found


def staff_routes() -> set[tuple[str, str]]:
    """Routes a signed-in staff member may call: role-protected ones, and any-principal ones."""
    app = create_app(Settings(environment="test", database_url="sqlite://", otp_sender="page"))
    routes = set()
    for method, path, dependant in _contexts(app):
        calls = _calls(dependant)
        any_principal = require_principal in calls and require_customer not in calls
        listed = optional_principal in calls and (method, path) in OPTIONAL_STAFF
        if require_staff in calls or any_principal or listed:
            routes.add((method, path))
    return routes


# Page routes that take an optional principal and serve staff (the walk cannot tell from the signature).
OPTIONAL_STAFF = {("GET", "/staff/orders")}

OUT_OF_SCOPE = {
    ("GET", "/api/v1/me"): "the caller's own principal",
    ("GET", "/supplier"): "a supplier's own part counts per week, no order or account; staff get 404",
    ("POST", "/supplier/confirm"): "suppliers' users only (staff get 404); audited as supply.confirmed",
    (
        "POST",
        "/supplier/shortage",
    ): "suppliers' users only (staff get 404); audited as supply.shortage_flagged",
    ("POST", "/api/v1/auth/sign-out"): "ends the caller's own session",
    ("GET", "/api/v1/staff/campaigns/{slug}/opening"): "counts of opening notices, no order or account",
    ("POST", "/api/v1/staff/campaigns/{slug}/opening-waves"): "a notice wave (audited by its service)",
    ("GET", "/api/v1/analytics/dashboard"): "anonymous aggregates, no single order or account",
    ("GET", "/console"): "navigation only",
    ("GET", "/staff/stores"): "the outlets' settings: no order, payment or account",
    ("GET", "/staff/stores/new"): "an empty outlet form",
    ("GET", "/staff/stores/{code}"): "one outlet's settings: no order, payment or account",
    ("GET", "/staff/centres"): "open-order counts per centre, no single order or account",
    ("GET", "/staff/shop"): "the shop's products and stock: no order, payment or account",
    ("GET", "/console/analytics"): "anonymous aggregates, no single order or account",
    ("GET", "/console/analytics/export/{name}.{fmt}"): "anonymous aggregates, no single order or account",
    ("GET", "/console/audit"): "the audit log itself",
    ("GET", "/console/catalog"): "catalog versions",
    ("GET", "/console/policy"): "deposit terms per model, no order",
    ("GET", "/console/campaigns"): "launch campaigns (their changes are audited)",
    ("GET", "/console/campaigns/{campaign_id}"): "one campaign's terms and links",
    ("GET", "/console/campaigns/{campaign_id}/live"): "campaign aggregates, no single order or account",
    (
        "GET",
        "/console/campaigns/{campaign_id}/live/stream",
    ): "campaign aggregates, no single order or account",
    ("GET", "/console/campaigns/{campaign_id}/export.csv"): "campaign aggregates, no single order or account",
    ("GET", "/api/v1/production/plan"): "the production plan, no order",
    ("GET", "/api/v1/production/runs"): "allocation run counts, no order",
    ("GET", "/api/v1/stores/{code}/calendar"): "appointments (not an order, payment or account)",
    ("GET", "/staff/calendar"): "appointments (not an order, payment or account)",
    ("GET", "/api/v1/appointments/{appointment_id}"): "an appointment (not an order, payment or account)",
    ("POST", "/api/v1/appointments/{appointment_id}/reschedule"): "an appointment (audited by its service)",
    ("POST", "/api/v1/appointments/{appointment_id}/cancel"): "an appointment (audited by its service)",
    ("POST", "/staff/appointments/{appointment_id}/reschedule"): "an appointment (audited by its service)",
    ("POST", "/api/v1/staff/events"): "announces an owner event",
    ("GET", "/api/v1/events"): "the public event list",
    ("GET", "/api/v1/shop/products"): "the product list",
    ("GET", "/api/v1/changelog"): "community content",
    ("GET", "/api/v1/roadmap"): "community content",
    ("GET", "/api/v1/suggestions"): "community content",
    ("GET", "/api/v1/suggestions/similar"): "community content",
    ("GET", "/api/v1/suggestions/{suggestion_id}"): "community content",
    ("POST", "/api/v1/staff/suggestions/{suggestion_id}/merge"): "community content (audited by its service)",
    (
        "POST",
        "/api/v1/staff/suggestions/{suggestion_id}/status",
    ): "community content (audited by its service)",
    (
        "POST",
        "/api/v1/staff/suggestions/{suggestion_id}/unmerge",
    ): "community content (audited by its service)",
    ("POST", "/community/suggestions/{suggestion_id}/merge"): "community content (audited by its service)",
    ("POST", "/community/suggestions/{suggestion_id}/status"): "community content (audited by its service)",
    ("POST", "/community/suggestions/{suggestion_id}/unmerge"): "community content (audited by its service)",
    ("GET", "/api/v1/forum/boards/{board}"): "community content",
    ("GET", "/api/v1/forum/posts/{post_id}"): "community content",
    ("POST", "/api/v1/staff/forum/posts/{post_id}/comments"): "community content",
    ("POST", "/api/v1/staff/forum/posts/{post_id}/helpful"): "community content (audited by its service)",
    ("POST", "/api/v1/staff/forum/posts/{post_id}/official-answer"): "community content (audited)",
    ("GET", "/api/v1/staff/forum/reports"): "community content",
    ("POST", "/api/v1/staff/forum/reports/{report_id}"): "community content (audited by its service)",
    ("GET", "/community/forum"): "community content",
    ("GET", "/community/forum/{board}"): "community content",
    ("GET", "/community/forum/posts/{post_id}"): "community content",
    ("POST", "/community/forum/posts/{post_id}/answer"): "community content",
    ("POST", "/community/forum/posts/{post_id}/helpful"): "community content (audited by its service)",
    ("POST", "/community/forum/posts/{post_id}/official"): "community content (audited by its service)",
    ("GET", "/staff/forum/moderation"): "community content",
    ("POST", "/staff/forum/moderation/{report_id}"): "community content (audited by its service)",
    ("GET", "/events"): "the public event list",
    ("GET", "/staff/events/{event_id}"): "an owner event and its sign-ups (not an order, payment or account)",
    ("POST", "/staff/events"): "announces an owner event",
}


# --------------------------------------------------------------------------------------- the world
@dataclass
class World:
    """A signed-in admin, HQ operator and Beijing centre staff, and builders for what they act on."""

    client: TestClient
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    actors: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)

    def sessions(self) -> Any:
        return self.client.app.state.sessions  # type: ignore[attr-defined]

    def buyer(self, phone: str = "13800138000") -> dict[str, str]:
        return customer_headers(self.client, phone)

    def customer_id(self, phone: str = "13800138000") -> int:
        return int(self.client.get("/api/v1/me", headers=self.buyer(phone)).json()["customer_id"])

    def paid_order(self, phone: str = "13800138000") -> str:
        """A reserved order with its deposit paid; its number."""
        buyer = self.buyer(phone)
        made = self.client.post(
            "/api/v1/orders", json={"configuration": {"model": "su7", "trim": "pro"}}, headers=buyer
        ).json()
        payment = made["payment"]
        provider = self.client.app.state.payment_provider  # type: ignore[attr-defined]
        form = provider.signed_notification(
            trade_no=payment["trade_no"],
            amount_fen=payment["amount_fen"],
            status=NotificationStatus.SUCCEEDED,
        )
        assert self.client.post("/api/v1/payments/notify/simulator", data=form).text == "success"
        return str(made["order"]["number"])

    def locked_order(self) -> str:
        """A paid and locked order that production has scheduled; its number."""
        publish_sample_plan(self.sessions())
        number = self.paid_order()
        with self.sessions().begin() as s:
            order = ordering.load(session=s, number=number)
            ordering.advance(session=s, order=order, target=OrderStatus.LOCKED, actor="test", reason="test")
        dispatch(self.sessions(), all_handlers())
        return number

    def order_at_centre(self, *, settle: bool = False) -> str:
        """An order of the Beijing delivery centre whose car has arrived there; its number."""
        number = self.paid_order()
        from carloop.network import service as network

        with self.sessions().begin() as s:
            order = ordering.load(session=s, number=number)
            order.delivery_store_id = network.get_store_by_code(session=s, code="BJ-DC-01").id
            for target in (
                OrderStatus.LOCKED,
                OrderStatus.SCHEDULED,
                OrderStatus.IN_PRODUCTION,
                OrderStatus.BUILT,
                OrderStatus.IN_TRANSIT,
                OrderStatus.AT_DELIVERY_CENTRE,
            ):
                extra = {"vin": VIN} if target is OrderStatus.BUILT else {}
                ordering.advance(session=s, order=order, target=target, actor="test", reason="test", **extra)
        if settle:
            due = self.client.get(f"/api/v1/orders/{number}/balance", headers=self.headers["store1"]).json()
            paid = self.client.post(
                f"/api/v1/store/orders/{number}/payments",
                json={"amount_fen": due["due_fen"], "reference": "POS-SETTLE"},
                headers=self.headers["store1"],
            )
            assert paid.status_code == 201, paid.text
        return number

    def order_id(self, number: str) -> str:
        with self.sessions().begin() as s:
            return str(ordering.load(session=s, number=number).id)


@pytest.fixture
def world(client: TestClient) -> World:
    with client.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
        logins = {login.username: login.secret for login in seed_demo_accounts(session=session)}
    w = World(client)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    for username in ("admin", "ops", "store1"):
        body = client.post(
            "/api/v1/auth/staff/sign-in", json={"username": username, "password": logins[username]}
        ).json()
        w.headers[username] = {"Authorization": f"Bearer {body['token']}"}
        w.actors[username] = f"staff:{body['principal']['staff_id']}"
        w.csrf[username] = csrf_token_for(settings, body["token"])
    return w


# --------------------------------------------------------------------------------------- the cases
@dataclass(frozen=True)
class Expect:
    """The audit row a staff action must leave: by whom, on which kind of thing, which one."""

    who: str
    target_types: frozenset[str]
    target_ids: frozenset[str]
    action: str | None = None  # checked exactly for this engineer's own domains


Act = Callable[[World], Expect]


def _expect(w: World, who: str, types: str, *ids: str, action: str | None = None) -> Expect:
    return Expect(w.actors[who], frozenset(types.split("|")), frozenset(ids), action)


def _ok(response: Any) -> None:
    assert response.status_code < 400, response.text


def staff_search(w: World) -> Expect:
    w.paid_order()
    _ok(w.client.get("/api/v1/staff/orders", params={"q": ""}, headers=w.headers["ops"]))
    return _expect(w, "ops", "order", "*")


def staff_get(w: World) -> Expect:
    number = w.paid_order()
    _ok(w.client.get(f"/api/v1/staff/orders/{number}", headers=w.headers["ops"]))
    return _expect(w, "ops", "order", number, w.order_id(number))


def staff_orders_page(w: World) -> Expect:
    w.paid_order()
    _ok(w.client.get("/staff/orders", headers={**w.headers["store1"], "Accept": "text/html"}))
    return _expect(w, "store1", "order", "*")


def balance_as_staff(w: World) -> Expect:
    number = w.order_at_centre()
    _ok(w.client.get(f"/api/v1/orders/{number}/balance", headers=w.headers["store1"]))
    return _expect(w, "store1", "order|payment", number, w.order_id(number))


def store_payment(w: World) -> Expect:
    number = w.order_at_centre()
    body = {"amount_fen": 100_000, "reference": "POS-7"}
    _ok(w.client.post(f"/api/v1/store/orders/{number}/payments", json=body, headers=w.headers["store1"]))
    return _expect(w, "store1", "order|payment", number, w.order_id(number))


def handover(w: World) -> Expect:
    number = w.order_at_centre(settle=True)
    body = {"vin": VIN, "inspection_passed": True, "documents_signed": True}
    _ok(w.client.post(f"/api/v1/store/orders/{number}/handover", json=body, headers=w.headers["store1"]))
    return _expect(w, "store1", "order", number, w.order_id(number))


def rebalance(w: World) -> Expect:
    w.order_at_centre()
    _ok(w.client.post("/api/v1/network/centres/BJ-DC-01/rebalance", headers=w.headers["ops"]))
    with w.sessions().begin() as s:
        from carloop.network import service as network

        store_id = network.get_store_by_code(session=s, code="BJ-DC-01").id
    return _expect(w, "ops", "store|order", "BJ-DC-01", str(store_id))


def outlet_create_page(w: World) -> Expect:
    form = {
        "csrf_token": w.csrf["ops"], "code": "BJ-ST-99", "kind": "store", "name_zh": "北京测试门店",
        "name_en": "Beijing Test Store", "city": "Beijing", "province": "Beijing", "hub_code": "BJ-DC-01",
        "opens": "10:00", "closes": "21:00", "demo_model": ["su7"], "demo_cars": ["1"],
    }  # fmt: skip
    response = w.client.post("/staff/stores", data=form, headers=w.headers["ops"], follow_redirects=False)
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "store", "BJ-ST-99", action="network.store.create")


def outlet_update_page(w: World) -> Expect:
    form = {
        "csrf_token": w.csrf["ops"], "code": "BJ-DC-01", "kind": "delivery_centre", "name_zh": "北京交付中心",
        "name_en": "Beijing Delivery Centre", "city": "Beijing", "province": "Beijing",
        "opens": "09:00", "closes": "21:00", "storage_capacity": "100",
    }  # fmt: skip
    response = w.client.post(
        "/staff/stores/BJ-DC-01", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "store", "BJ-DC-01", action="network.store.update")


def rebalance_page(w: World) -> Expect:
    w.order_at_centre()
    response = w.client.post(
        "/staff/centres/BJ-DC-01/rebalance",
        data={"csrf_token": w.csrf["ops"]},
        headers=w.headers["ops"],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    with w.sessions().begin() as s:
        from carloop.network import service as network

        store_id = network.get_store_by_code(session=s, code="BJ-DC-01").id
    return _expect(w, "ops", "store", str(store_id), action="network.rebalance")


def inventory_page(w: World) -> Expect:
    response = w.client.get("/staff/inventory", headers=w.headers["ops"])
    assert response.status_code == 200, response.text
    return _expect(w, "ops", "order", "*", action="production.inventory.view")


def product_page(w: World) -> Expect:
    form = {
        "csrf_token": w.csrf["ops"],
        "sku": "CAP-01",
        "name_zh": "棒球帽",
        "name_en": "Cap",
        "price_points": "500",
    }
    response = w.client.post(
        "/staff/shop/products", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "product", "CAP-01", action="shop.product.create")


def stock_page(w: World) -> Expect:
    product_page(w)
    form = {"csrf_token": w.csrf["ops"], "delta": "10", "reason": "delivery"}
    response = w.client.post(
        "/staff/shop/products/CAP-01/stock", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "product", "CAP-01", action="shop.stock.adjust")


def production_tracking(w: World) -> Expect:
    number = w.locked_order()
    _ok(w.client.get(f"/api/v1/production/orders/{number}", headers=w.headers["ops"]))
    return _expect(w, "ops", "order", number, action="production.tracking.view")


def delivery_card(w: World) -> Expect:
    number = w.locked_order()
    _ok(w.client.get(f"/orders/{number}/delivery", headers={**w.headers["ops"], "Accept": "text/html"}))
    return _expect(w, "ops", "order", number, action="production.tracking.view")


def production_stage(w: World) -> Expect:
    number = w.locked_order()
    body = {"stage": "in_production"}
    _ok(w.client.post(f"/api/v1/production/orders/{number}/stage", json=body, headers=w.headers["ops"]))
    return _expect(w, "ops", "order", number, action="production.stage")


def production_inventory(w: World) -> Expect:
    _ok(w.client.get("/api/v1/production/inventory", headers=w.headers["ops"]))
    return _expect(w, "ops", "order", "*", action="production.inventory.view")


def _plan(w: World) -> dict[str, Any]:
    publish_sample_plan(w.sessions())  # HQ's first plan: the one these actions change
    return dict(w.client.get("/api/v1/production/plan", headers=w.headers["ops"]).json()["plan"])


def put_plan(w: World) -> Expect:
    body = {"plan": _plan(w), "reason": "audit coverage"}
    response = w.client.put("/api/v1/production/plan", json=body, headers=w.headers["ops"])
    _ok(response)
    return _expect(w, "ops", "plan", str(response.json()["plan_version"]), action="production.plan")


def staff_production_page(w: World) -> Expect:
    _ok(w.client.get("/staff/production", headers={**w.headers["ops"], "Accept": "text/html"}))
    return _expect(w, "ops", "order", "*", action="production.moves.view")


def staff_supply_page(w: World) -> Expect:
    _ok(w.client.get("/staff/supply", headers={**w.headers["ops"], "Accept": "text/html"}))
    return _expect(w, "ops", "order", "*", action="production.moves.view")


SUPPLIER_FORM = {"name_en": "Audit Parts", "name_zh": "审计零件", "password": "supplier-pass-2026"}


def _supplier_id(w: World, code: str) -> str:
    from carloop.supply.models import Supplier

    with w.sessions().begin() as s:
        return str(s.scalar(select(Supplier.id).where(Supplier.code == code)))


def open_supplier_page(w: World) -> Expect:
    form = {**SUPPLIER_FORM, "csrf_token": w.csrf["ops"], "code": "audit-parts", "username": "auditparts"}
    _ok(w.client.post("/staff/supply/suppliers", data=form, headers=w.headers["ops"]))
    return _expect(w, "ops", "supplier", _supplier_id(w, "audit-parts"), action="supply.supplier_created")


def rotate_key_page(w: World) -> Expect:
    form = {**SUPPLIER_FORM, "csrf_token": w.csrf["ops"], "code": "keyed-parts", "username": "keyedparts"}
    _ok(w.client.post("/staff/supply/suppliers", data=form, headers=w.headers["ops"]))
    path = "/staff/supply/suppliers/keyed-parts/key"
    _ok(w.client.post(path, data={"csrf_token": w.csrf["ops"]}, headers=w.headers["ops"]))
    return _expect(w, "ops", "supplier", _supplier_id(w, "keyed-parts"), action="supply.key_rotated")


def add_portal_user_page(w: World) -> Expect:
    form = {**SUPPLIER_FORM, "csrf_token": w.csrf["ops"], "code": "staffed-parts", "username": "staffedparts"}
    _ok(w.client.post("/staff/supply/suppliers", data=form, headers=w.headers["ops"]))
    more = {"csrf_token": w.csrf["ops"], "username": "staffedparts2", "password": "supplier-pass-2026"}
    _ok(w.client.post("/staff/supply/suppliers/staffed-parts/users", data=more, headers=w.headers["ops"]))
    return _expect(w, "ops", "supplier", _supplier_id(w, "staffed-parts"), action="supply.user_added")


def switch_portal_user_page(w: World) -> Expect:
    from carloop.accounts.models import Staff

    form = {**SUPPLIER_FORM, "csrf_token": w.csrf["ops"], "code": "offed-parts", "username": "offedparts"}
    _ok(w.client.post("/staff/supply/suppliers", data=form, headers=w.headers["ops"]))
    with w.sessions().begin() as s:
        staff_id = s.scalar(select(Staff.id).where(Staff.username == "offedparts"))
    path = f"/staff/supply/suppliers/offed-parts/users/{staff_id}"
    _ok(w.client.post(path, data={"csrf_token": w.csrf["ops"]}, headers=w.headers["ops"]))
    return _expect(w, "ops", "supplier", _supplier_id(w, "offed-parts"), action="supply.user_deactivated")


def save_plan_page(w: World) -> Expect:
    import json

    form = {"csrf_token": w.csrf["ops"], "plan": json.dumps(_plan(w)), "reason": "audit coverage"}
    response = w.client.post(
        "/staff/production/plan", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    version = w.client.get("/api/v1/production/plan", headers=w.headers["ops"]).json()["version"]
    return _expect(w, "ops", "plan", str(version), action="production.plan")


def compensation(w: World) -> Expect:
    cid = w.customer_id()
    body = {"customer_id": cid, "points": 100, "reason": "late delivery", "key": "audit-1"}
    _ok(w.client.post("/api/v1/staff/points/compensations", json=body, headers=w.headers["ops"]))
    return _expect(w, "ops", "customer|points", str(cid))


def shop_refund(w: World) -> Expect:
    from carloop.loyalty import shop

    with w.sessions().begin() as s:
        shop.add_product(session=s, sku="MUG", name_zh="马克杯", name_en="Mug", price_points=80, stock=5)
    cid = w.customer_id()
    grant = {"customer_id": cid, "points": 100, "reason": "setup", "key": "audit-setup"}
    _ok(w.client.post("/api/v1/staff/points/compensations", json=grant, headers=w.headers["ops"]))
    bought = w.client.post(
        "/api/v1/shop/orders", json={"items": [{"sku": "MUG", "quantity": 1}]}, headers=w.buyer()
    )
    _ok(bought)
    number = bought.json()["number"]
    body = {"reason": "damaged"}
    _ok(w.client.post(f"/api/v1/staff/shop/orders/{number}/refund", json=body, headers=w.headers["ops"]))
    return _expect(w, "ops", "shop_order|order", number, str(bought.json().get("id", number)))


def event_checkin(w: World) -> Expect:
    event = {
        "kind": "track_day",
        "title_zh": "赛道日",
        "title_en": "Track day",
        "starts_at": "2099-05-01T09:00:00+08:00",
        "capacity": 5,
    }
    eid = w.client.post("/api/v1/staff/events", json=event, headers=w.headers["ops"]).json()["id"]
    _ok(w.client.post(f"/api/v1/events/{eid}/signup", headers=w.buyer()))
    cid = w.customer_id()
    body = {"customer_id": cid}
    _ok(w.client.post(f"/api/v1/staff/events/{eid}/checkins", json=body, headers=w.headers["ops"]))
    return _expect(w, "ops", "owner_event|customer", str(eid), str(cid))


def forum_ban(w: World) -> Expect:
    cid = w.customer_id()
    body = {"customer_id": cid, "days": 7, "reason": "spam"}
    _ok(w.client.post("/api/v1/staff/forum/bans", json=body, headers=w.headers["ops"]))
    return _expect(w, "ops", "customer", str(cid))


def list_staff_api(w: World) -> Expect:
    _ok(w.client.get("/api/v1/staff", headers=w.headers["admin"]))
    return _expect(w, "admin", "staff", "*", action="staff.listed")


def create_staff_api(w: World) -> Expect:
    body = {
        "username": "newbie",
        "display_name": "Newbie",
        "password": "a-long-test-password-1",
        "role": "hq_ops",
    }
    response = w.client.post("/api/v1/staff", json=body, headers=w.headers["admin"])
    _ok(response)
    return _expect(w, "admin", "staff", str(response.json()["id"]), action="staff.created")


def _ops_id(w: World) -> str:
    return w.actors["ops"].split(":")[1]


def update_staff_api(w: World) -> Expect:
    body = {"display_name": "Renamed"}
    _ok(w.client.patch(f"/api/v1/staff/{_ops_id(w)}", json=body, headers=w.headers["admin"]))
    return _expect(w, "admin", "staff", _ops_id(w), action="staff.updated")


def staff_page(w: World) -> Expect:
    _ok(w.client.get("/console/staff", headers={**w.headers["admin"], "Accept": "text/html"}))
    return _expect(w, "admin", "staff", "*", action="staff.listed")


def create_staff_page(w: World) -> Expect:
    form = {
        "csrf_token": w.csrf["admin"],
        "username": "newbie",
        "display_name": "Newbie",
        "password": "a-long-test-password-1",
        "role": "hq_ops",
    }
    response = w.client.post("/console/staff", data=form, headers=w.headers["admin"], follow_redirects=False)
    assert response.status_code == 303, response.text
    with w.sessions().begin() as s:
        from carloop.accounts import service as accounts

        made = [a for a in accounts.list_staff(session=s) if a.username == "newbie"]
        return _expect(w, "admin", "staff", str(made[0].id), action="staff.created")


def update_staff_page(w: World) -> Expect:
    form = {"csrf_token": w.csrf["admin"], "role": "hq_ops", "store_id": "", "active": ""}
    response = w.client.post(
        f"/console/staff/{_ops_id(w)}", data=form, headers=w.headers["admin"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "admin", "staff", _ops_id(w), action="staff.updated")


def reconciliation_page(w: World) -> Expect:
    _ok(w.client.get("/staff/reconciliation", headers={**w.headers["admin"], "Accept": "text/html"}))
    return _expect(w, "admin", "reconciliation", "open", action="payment.reconciliation_view")


def resolve_difference(w: World) -> Expect:
    from datetime import date

    from carloop.payments.models import ReconciliationDifference

    with w.sessions().begin() as s:
        row = ReconciliationDifference(
            provider="wechat",
            day=date(2026, 12, 6),
            kind="duplicate",
            trade_no="P-DUP",
            carloop_fen=1,
            provider_fen=2,
        )
        s.add(row)
        s.flush()
        row_id = row.id
    form = {"csrf_token": w.csrf["admin"], "note": "second payment refunded at the merchant console"}
    response = w.client.post(
        f"/staff/reconciliation/{row_id}/resolve",
        data=form,
        headers=w.headers["admin"],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return _expect(
        w, "admin", "reconciliation_difference", str(row_id), action="payment.reconciliation_resolve"
    )


def activate_catalog(w: World) -> Expect:
    from carloop.catalog import service as catalog

    version = next(iter(catalog.list_versions()))
    form = {"csrf_token": w.csrf["ops"], "version": version}
    response = w.client.post(
        "/console/catalog/activate", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "catalog", version, action="catalog.activated")


def set_policy(w: World) -> Expect:
    form = {
        "csrf_token": w.csrf["ops"],
        "model": "su7",
        "trim": "",
        "amount_yuan": "3000",
        "refundable_hours": "48",
    }
    response = w.client.post("/console/policy", data=form, headers=w.headers["ops"], follow_redirects=False)
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "deposit_policy", "su7/*", action="deposit_policy.set")


def import_market(w: World) -> Expect:
    form = {"csrf_token": w.csrf["ops"], "sample": "1"}
    response = w.client.post(
        "/console/analytics/market", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "market", "illustrative sample (not real data)", action="market.imported")


def handover_page(w: World) -> Expect:
    number = w.order_at_centre()
    _ok(
        w.client.get(
            f"/staff/orders/{number}/handover", headers={**w.headers["store1"], "Accept": "text/html"}
        )
    )
    return _expect(w, "store1", "order|payment", number, w.order_id(number))


def staff_order_page(w: World) -> Expect:
    number = w.paid_order()
    _ok(w.client.get(f"/staff/orders/{number}", headers={**w.headers["ops"], "Accept": "text/html"}))
    return _expect(w, "ops", "order", number, action="order.view")


def refund_on_behalf(w: World) -> Expect:
    number = w.paid_order()
    form = {"csrf_token": w.csrf["ops"], "action": "refund", "reason": "buyer phoned support"}
    response = w.client.post(
        f"/staff/orders/{number}/on-behalf", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "order", number, action="order.refund.on_behalf")


def stage_page(w: World) -> Expect:
    number = w.locked_order()
    form = {"csrf_token": w.csrf["ops"], "stage": "in_production"}
    response = w.client.post(
        f"/staff/orders/{number}/stage", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "order", number, action="production.stage")


def store_payment_page(w: World) -> Expect:
    number = w.order_at_centre()
    form = {"csrf_token": w.csrf["store1"], "amount": "1000", "reference": "POS-9"}
    response = w.client.post(
        f"/staff/orders/{number}/payments", data=form, headers=w.headers["store1"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "store1", "order|payment", number, w.order_id(number))


def handover_form(w: World) -> Expect:
    number = w.order_at_centre(settle=True)
    form = {
        "csrf_token": w.csrf["store1"],
        "vin": VIN,
        "inspection_passed": "true",
        "documents_signed": "true",
    }
    response = w.client.post(
        f"/staff/orders/{number}/handover", data=form, headers=w.headers["store1"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "store1", "order", number, w.order_id(number))


def receipt_pdf_page(w: World) -> Expect:
    number = w.paid_order()
    with w.sessions()() as s:
        (receipt,) = receipts.receipts_for_order(session=s, order_id=int(w.order_id(number)))
    _ok(w.client.get(f"/staff/orders/{number}/receipts/{receipt.number}.pdf", headers=w.headers["ops"]))
    return _expect(w, "ops", "order", number, action="receipt.download")


def _delivered(w: World) -> str:
    """An order handed over at its centre, with its sales document written (outbox dispatched)."""
    number = w.order_at_centre(settle=True)
    form = {
        "csrf_token": w.csrf["store1"],
        "vin": VIN,
        "inspection_passed": "true",
        "documents_signed": "true",
    }
    response = w.client.post(
        f"/staff/orders/{number}/handover", data=form, headers=w.headers["store1"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    dispatch(w.sessions(), all_handlers())
    return number


def sales_document_page(w: World) -> Expect:
    number = _delivered(w)
    _ok(w.client.get(f"/staff/orders/{number}/sales-document.pdf", headers=w.headers["store1"]))
    return _expect(w, "store1", "order", number, action="sales_document.download")


def einvoice_page(w: World) -> Expect:
    number = _delivered(w)
    response = w.client.post(
        f"/staff/orders/{number}/einvoice",
        data={"csrf_token": w.csrf["store1"]},
        headers=w.headers["store1"],
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return _expect(w, "store1", "order", number, action="einvoice.blue")


def forum_ban_page(w: World) -> Expect:
    cid = w.customer_id()
    form = {"csrf_token": w.csrf["ops"], "customer_id": str(cid), "days": "7", "reason": "spam"}
    response = w.client.post("/staff/forum/bans", data=form, headers=w.headers["ops"], follow_redirects=False)
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "customer", str(cid))


def event_checkin_page(w: World) -> Expect:
    event = {
        "kind": "track_day",
        "title_zh": "赛道日",
        "title_en": "Track day",
        "starts_at": "2099-05-01T09:00:00+08:00",
        "capacity": 5,
    }
    eid = w.client.post("/api/v1/staff/events", json=event, headers=w.headers["ops"]).json()["id"]
    _ok(w.client.post(f"/api/v1/events/{eid}/signup", headers=w.buyer()))
    cid = w.customer_id()
    form = {"csrf_token": w.csrf["ops"], "customer_id": str(cid)}
    response = w.client.post(
        f"/staff/events/{eid}/checkins", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "owner_event|customer", str(eid), str(cid))


def _campaign_form(w: World, **changes: str) -> dict[str, str]:
    from datetime import timedelta

    from carloop.clock import SHANGHAI, utcnow

    soon = utcnow().astimezone(SHANGHAI) + timedelta(hours=1)
    form = {
        "csrf_token": w.csrf["ops"],
        "code": "audit-night",
        "name_en": "Audit night",
        "name_zh": "审计之夜",
        "models": "su7",
        "reveal_at": soon.strftime("%Y-%m-%dT%H:%M:%S"),
        "ends_at": (soon + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    form.update(changes)
    return form


def _campaign_id(w: World) -> int:
    response = w.client.post(
        "/console/campaigns", data=_campaign_form(w), headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def create_campaign(w: World) -> Expect:
    campaign_id = _campaign_id(w)
    return _expect(w, "ops", "campaign", str(campaign_id), action="campaign.create")


def update_campaign(w: World) -> Expect:
    campaign_id = _campaign_id(w)
    form = _campaign_form(w, name_en="Audit night, moved")
    response = w.client.post(
        f"/console/campaigns/{campaign_id}", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "campaign", str(campaign_id), action="campaign.update")


def create_campaign_link(w: World) -> Expect:
    campaign_id = _campaign_id(w)
    form = {"csrf_token": w.csrf["ops"], "channel": "influencer", "source": "Alice", "model": "su7"}
    response = w.client.post(
        f"/console/campaigns/{campaign_id}/links", data=form, headers=w.headers["ops"], follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return _expect(w, "ops", "campaign", str(campaign_id), action="campaign.link.create")


def _gap(domain: str, route: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=f"{domain}: {route} not audited")


CASES: dict[tuple[str, str], tuple[Act, Any]] = {
    # orders
    ("GET", "/api/v1/staff/orders"): (staff_search, None),
    ("GET", "/api/v1/staff/orders/{number}"): (staff_get, None),
    ("GET", "/staff/orders"): (staff_orders_page, None),
    ("GET", "/api/v1/orders/{number}/balance"): (balance_as_staff, None),
    ("POST", "/api/v1/store/orders/{number}/payments"): (store_payment, None),
    ("POST", "/api/v1/store/orders/{number}/handover"): (handover, None),
    ("GET", "/staff/orders/{number}/handover"): (handover_page, None),
    ("GET", "/staff/orders/{number}"): (staff_order_page, None),
    ("POST", "/staff/orders/{number}/on-behalf"): (refund_on_behalf, None),
    ("POST", "/staff/orders/{number}/stage"): (stage_page, None),
    ("POST", "/staff/orders/{number}/payments"): (store_payment_page, None),
    ("POST", "/staff/orders/{number}/handover"): (handover_form, None),
    ("GET", "/staff/orders/{number}/receipts/{receipt}"): (receipt_pdf_page, None),
    ("GET", "/staff/orders/{number}/sales-document.pdf"): (sales_document_page, None),
    ("POST", "/staff/orders/{number}/einvoice"): (einvoice_page, None),
    ("POST", "/api/v1/network/centres/{code}/rebalance"): (rebalance, None),
    ("POST", "/staff/stores"): (outlet_create_page, None),
    ("POST", "/staff/stores/{store_code}"): (outlet_update_page, None),
    ("POST", "/staff/centres/{code}/rebalance"): (rebalance_page, None),
    ("GET", "/staff/inventory"): (inventory_page, None),
    ("POST", "/staff/shop/products"): (product_page, None),
    ("POST", "/staff/shop/products/{sku}/stock"): (stock_page, None),
    ("GET", "/api/v1/production/orders/{number}"): (production_tracking, None),
    ("GET", "/orders/{number}/delivery"): (delivery_card, None),
    ("POST", "/api/v1/production/orders/{number}/stage"): (production_stage, None),
    ("GET", "/api/v1/production/inventory"): (production_inventory, None),
    ("PUT", "/api/v1/production/plan"): (put_plan, None),
    ("GET", "/staff/production"): (staff_production_page, None),
    ("POST", "/staff/production/plan"): (save_plan_page, None),
    ("GET", "/staff/supply"): (staff_supply_page, None),
    ("POST", "/staff/supply/suppliers"): (open_supplier_page, None),
    ("POST", "/staff/supply/suppliers/{code}/key"): (rotate_key_page, None),
    ("POST", "/staff/supply/suppliers/{code}/users"): (add_portal_user_page, None),
    ("POST", "/staff/supply/suppliers/{code}/users/{staff_id}"): (switch_portal_user_page, None),
    # payments and points
    ("POST", "/api/v1/staff/points/compensations"): (compensation, None),
    ("POST", "/api/v1/staff/shop/orders/{number}/refund"): (shop_refund, None),
    ("GET", "/staff/reconciliation"): (reconciliation_page, None),
    ("POST", "/staff/reconciliation/{difference_id}/resolve"): (resolve_difference, None),
    ("POST", "/api/v1/staff/events/{event_id}/checkins"): (event_checkin, None),
    ("POST", "/staff/events/{event_id}/checkins"): (event_checkin_page, None),
    # accounts
    ("POST", "/api/v1/staff/forum/bans"): (forum_ban, None),
    ("POST", "/staff/forum/bans"): (forum_ban_page, None),
    ("GET", "/api/v1/staff"): (list_staff_api, None),
    ("POST", "/api/v1/staff"): (create_staff_api, None),
    ("PATCH", "/api/v1/staff/{staff_id}"): (update_staff_api, None),
    ("GET", "/console/staff"): (staff_page, None),
    ("POST", "/console/staff"): (create_staff_page, None),
    ("POST", "/console/staff/{staff_id}"): (update_staff_page, None),
    # console settings that change what orders cost or show
    ("POST", "/console/catalog/activate"): (activate_catalog, None),
    ("POST", "/console/policy"): (set_policy, None),
    ("POST", "/console/campaigns"): (create_campaign, None),
    ("POST", "/console/campaigns/{campaign_id}"): (update_campaign, None),
    ("POST", "/console/campaigns/{campaign_id}/links"): (create_campaign_link, None),
    ("POST", "/console/analytics/market"): (import_market, None),
}


def test_every_staff_route_is_classified() -> None:
    routes = staff_routes()
    unclassified = sorted(routes - set(CASES) - set(OUT_OF_SCOPE))
    assert unclassified == [], "new staff routes: add a CASE (audited) or an OUT_OF_SCOPE reason"
    stale = sorted((set(CASES) | set(OUT_OF_SCOPE)) - routes)
    assert stale == [], "classified routes the app no longer has (or no longer lets staff call)"


def _params() -> list[Any]:
    out = []
    for (method, path), (act, mark) in sorted(CASES.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        out.append(pytest.param(act, id=f"{method} {path}", marks=[mark] if mark is not None else []))
    return out


@pytest.mark.parametrize("act", _params())
def test_the_staff_action_is_in_the_audit_log(world: World, act: Act) -> None:
    with world.sessions().begin() as s:
        before = s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0
    expected = act(world)
    with world.sessions().begin() as s:
        rows = [
            (e.actor, e.action, e.target_type, e.target_id)
            for e in s.scalars(select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id))
        ]
    mine = [r for r in rows if r[0] == expected.who]
    matching = [
        r
        for r in mine
        if r[2] in expected.target_types
        and r[3] in expected.target_ids
        and r[1]
        and (expected.action is None or r[1] == expected.action)
    ]
    assert matching, f"no audit row for {expected}; the actor's rows were {mine}"
