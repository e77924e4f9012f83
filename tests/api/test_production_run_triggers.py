"""HQ's plan page words each allocation run's trigger (stored as a kind and its values) in zh-CN and en."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from carloop.production import rules, service, triggers
from carloop.production.models import Run
from carloop.production.triggers import TriggerKind
from tests.api.test_production import HTML, staff

# (what started the run, how HQ reads it in Chinese, in English), one of each kind
EXPECTED = [
    (triggers.order_locked("CL-2026-0001"), "订单 CL-2026-0001 已锁单", "Order CL-2026-0001 locked"),
    (triggers.order_cancelled("CL-2026-0002"), "订单 CL-2026-0002 已取消", "Order CL-2026-0002 cancelled"),
    (
        triggers.order_reconfigured("CL-2026-0003"),
        "订单 CL-2026-0003 锁单后更改了配置",
        "Order CL-2026-0003: configuration changed after lock",
    ),
    (
        triggers.inventory_car_taken("CL-2026-0004", "LXMSU7A10T0000001"),
        "订单 CL-2026-0004 选用了现车 LXMSU7A10T0000001",
        "Order CL-2026-0004 took inventory car LXMSU7A10T0000001",
    ),
]
PLANS = [  # saved through save_plan, which numbers the version (v1 is the first plan)
    (triggers.plan_saved("extra shift"), "计划 v2：extra shift", "Plan v2: extra shift"),
    (
        triggers.supply_changed("ningde-cells", "battery-101kwh", "2027-01-11", short=True),
        "计划 v3：供应商 ningde-cells 的 101 kWh 电池包 自 2027-01-11 起供应不足",
        "Plan v3: supplier ningde-cells short of 101 kWh battery pack from 2027-01-11",
    ),
    (
        triggers.supply_changed("ningde-cells", "battery-101kwh", "2027-02-01", short=False),
        "计划 v4：供应商 ningde-cells 的 101 kWh 电池包 自 2027-02-01 起恢复足量供应",
        "Plan v4: supplier ningde-cells back to full supply of 101 kWh battery pack from 2027-02-01",
    ),
]
LEGACY = "order CL-9 was moved by hand"  # an old run's text the migration could not read


def _shown(client: TestClient, lang: str) -> list[str]:
    page = client.get(f"/staff/production?lang={lang}", headers=HTML)
    assert page.status_code == 200
    cells = re.findall(r'<td data-testid="run-trigger">(.*?)</td>', page.text, re.S)
    return [html.unescape(c) for c in cells]


def test_the_plan_page_shows_every_kind_of_trigger_in_chinese_and_english(client: TestClient) -> None:
    sessions = client.app.state.sessions  # type: ignore[attr-defined]
    with sessions.begin() as session:
        plan = rules.sample_plan(service.today())
        service.save_plan(session=session, plan=plan, reason="first plan", actor="test")
        for trigger, _, _ in EXPECTED:
            service.replan(session=session, trigger=trigger)
        for trigger, _, _ in PLANS:
            service.save_plan(session=session, plan=plan, reason="why", actor="test", cause=trigger)
        session.add(
            Run(trigger_kind=TriggerKind.TEXT, trigger_params={"text": LEGACY}, plan_version=4, orders=0)
        )
    ops = staff(client)
    client.cookies.set("carloop_session", ops["Authorization"].removeprefix("Bearer "))
    every = EXPECTED + PLANS
    newest_first = list(reversed(every))
    assert _shown(client, "zh_CN")[:-1] == [LEGACY] + [zh for _, zh, _ in newest_first]
    assert _shown(client, "en")[:-1] == [LEGACY] + [en for _, _, en in newest_first]
    runs = client.get("/api/v1/production/runs", headers=ops).json()
    assert runs[1] == {
        **runs[1],
        "trigger": PLANS[-1][2],
        "trigger_kind": "supply_restored",
        "trigger_params": {
            "supplier": "ningde-cells",
            "part": "battery-101kwh",
            "week": "2027-02-01",
            "version": 4,
        },
    }
