"""Ecosystem services on the database: pairing, the delivered car, scenes, traces and waiting runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from carloop.audit.models import AuditEntry
from carloop.ecosystem import activity, service
from carloop.ecosystem import scenes as scene_service
from carloop.ecosystem.engine import Trace
from carloop.ecosystem.handlers import EVENT_HANDLERS
from carloop.ecosystem.models import Device, DeviceKind, DeviceStatus, Precision
from carloop.ecosystem.presets import PRESETS
from carloop.ecosystem.rules import Zone
from carloop.ecosystem.simulator import PLACES, offset
from carloop.errors import NotFound, PolicyViolation
from carloop.ordering.events import OrderDelivered
from carloop.outbox.service import dispatch, publish

from .conftest import Owner

T0 = 1_780_000_000.0


def test_delivered_order_links_the_car_once(session_factory: sessionmaker[Session], owner: Owner) -> None:
    event = OrderDelivered(
        order_id=77,
        number="N77",
        customer_id=owner.customer_id,
        model="su7",
        trim="max",
        vin="LCL000TEST0000077",
    )
    with session_factory.begin() as session:
        publish(session=session, event=event)
        publish(session=session, event=event)  # a duplicate delivery notice changes nothing
    assert dispatch(session_factory, EVENT_HANDLERS) == 2
    with session_factory() as session:
        cars = session.scalars(select(Device).where(Device.order_id == 77)).all()
    assert len(cars) == 1
    assert cars[0].kind is DeviceKind.VEHICLE and cars[0].status is DeviceStatus.PAIRED
    assert cars[0].customer_id == owner.customer_id and cars[0].vin == "LCL000TEST0000077"


def test_pairing_code_works_once(session: Session, owner: Owner) -> None:
    from carloop.ecosystem.api_schemas import DeviceCreate

    device, code = service.add_device(
        session=session, customer_id=owner.customer_id, data=DeviceCreate(kind=DeviceKind.LOCK, name="Door")
    )
    assert device.status is DeviceStatus.PENDING
    paired = service.pair(session=session, customer_id=owner.customer_id, code=code)
    assert paired.entity_id == f"lock.{device.id}" and paired.secret
    assert device.secret_hash and paired.secret not in device.secret_hash
    with pytest.raises(NotFound):
        service.pair(session=session, customer_id=owner.customer_id, code=code)


def test_unpairing_revokes_credentials_and_disables_scenes_using_the_device(
    session: Session, owner: Owner
) -> None:
    scene = scene_service.add_preset(session=session, customer_id=owner.customer_id, name="coming_home")
    scene_service.set_enabled(session=session, customer_id=owner.customer_id, scene_id=scene.id, enabled=True)
    device = service.unpair(session=session, customer_id=owner.customer_id, device_id=owner.light_id)
    assert device.status is DeviceStatus.REVOKED and device.secret_hash == ""
    assert not scene.enabled and owner.light in scene.error
    assert owner.light not in {
        d.entity_id for d in service.list_devices(session=session, customer_id=owner.customer_id)
    }
    with pytest.raises(PolicyViolation):
        scene_service.set_enabled(
            session=session, customer_id=owner.customer_id, scene_id=scene.id, enabled=True
        )


def test_another_owner_cannot_see_or_unpair_a_device(session: Session, owner: Owner) -> None:
    with pytest.raises(NotFound):
        service.unpair(session=session, customer_id=owner.customer_id + 1000, device_id=owner.light_id)


def test_invalid_scene_is_stored_disabled_with_its_error(session: Session, owner: Owner) -> None:
    bad = {
        "alias": "Broken",
        "triggers": [{"trigger": "zone", "entity_id": owner.car, "zone": "zone.mars"}],
        "actions": [{"delay": "soon"}],
    }
    scene = scene_service.save_scene(session=session, customer_id=owner.customer_id, data=bad)
    assert scene.enabled is False and "delay" in scene.error
    unknown = {
        "alias": "Elsewhere",
        "triggers": [{"trigger": "zone", "entity_id": owner.car, "zone": "zone.mars"}],
        "actions": [{"action": "carloop.notify", "data": {"message": "hi"}}],
    }
    scene = scene_service.save_scene(session=session, customer_id=owner.customer_id, data=unknown)
    assert "zone.mars" in scene.error
    with pytest.raises(PolicyViolation):
        scene_service.set_enabled(
            session=session, customer_id=owner.customer_id, scene_id=scene.id, enabled=True
        )


def test_every_preset_validates_for_a_linked_car(session: Session, owner: Owner) -> None:
    for name in PRESETS:
        scene = scene_service.add_preset(session=session, customer_id=owner.customer_id, name=name)
        assert scene.error == "", (name, scene.error)


def test_yaml_export_imports_back_to_the_same_scenes(session: Session, owner: Owner) -> None:
    for name in ("coming_home", "low_battery"):
        scene_service.add_preset(session=session, customer_id=owner.customer_id, name=name)
    text = scene_service.export_yaml(session=session, customer_id=owner.customer_id)
    assert "triggers:" in text and "carloop.command" in text
    imported = scene_service.import_yaml(session=session, customer_id=owner.customer_id, text=text)
    originals = scene_service.list_scenes(session=session, customer_id=owner.customer_id)[:2]
    assert [s.definition for s in imported] == [s.definition for s in originals]


def test_home_assistant_yaml_with_legacy_keys_imports(session: Session, owner: Owner) -> None:
    text = f"""
- id: '1700000000000'
  alias: Porch light
  trigger:
    - platform: state
      entity_id: {owner.car}
      attribute: locked
      to: false
  condition:
    - condition: time
      after: '18:00'
      before: '06:00'
  action:
    - service: carloop.command
      target: {{entity_id: {owner.light}}}
      data: {{command: turn_on}}
  mode: restart
"""
    [scene] = scene_service.import_yaml(session=session, customer_id=owner.customer_id, text=text)
    assert scene.error == ""
    assert scene.definition["mode"] == "restart"
    assert scene.definition["triggers"][0]["trigger"] == "state"


def test_traces_keep_the_last_twenty_and_location_reads_are_audited(session: Session, owner: Owner) -> None:
    scene = scene_service.add_preset(session=session, customer_id=owner.customer_id, name="coming_home")
    traces = [
        Trace(
            scene.id,
            f"run{i}",
            T0 + i,
            {"platform": "zone", "entity_id": owner.car, "zone": "zone.home"},
            [{"step": "command"}],
            "finished",
            T0 + i,
        )
        for i in range(25)
    ]
    activity.save_traces(session=session, traces=traces)
    kept = activity.list_traces(session=session, customer_id=owner.customer_id, scene_id=scene.id)
    assert len(kept) == 20 and kept[0].run_id == "run24"
    reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "location.read")).all()
    assert len(reads) == 25 and reads[0].detail["viewer"] == f"scene:{scene.id}"


def test_a_waiting_run_is_restored_by_a_new_engine(
    session_factory: sessionmaker[Session], owner: Owner
) -> None:
    with session_factory.begin() as session:
        data = {
            "alias": "Later",
            "triggers": [{"trigger": "zone", "entity_id": owner.car, "zone": "zone.home"}],
            "actions": [
                {"delay": "00:10:00"},
                {
                    "action": "carloop.command",
                    "target": {"entity_id": owner.ac},
                    "data": {"command": "turn_on"},
                },
            ],
        }
        scene = scene_service.save_scene(session=session, customer_id=owner.customer_id, data=data)
        scene_service.set_enabled(
            session=session, customer_id=owner.customer_id, scene_id=scene.id, enabled=True
        )
    with session_factory() as session:
        engine = activity.build_engine(session=session)
    far, near = offset(PLACES["home"], 2000, 0), offset(PLACES["home"], 20, 0)
    engine.update(owner.car, {"latitude": far[0], "longitude": far[1]}, T0)
    assert engine.update(owner.car, {"latitude": near[0], "longitude": near[1]}, T0 + 1) == []
    _, _, pending = engine.drain()
    with session_factory.begin() as session:
        activity.save_pending(session=session, changes=pending)

    with session_factory() as session:  # "restart"
        restarted = activity.build_engine(session=session)
    assert len(restarted.runs) == 1
    assert [e.entity_id for e in restarted.tick(T0 + 602)] == [owner.ac]
    _, traces, pending = restarted.drain()
    with session_factory.begin() as session:
        activity.save_pending(session=session, changes=pending)
        activity.save_traces(session=session, traces=traces)
        assert activity.pending_runs(session=session) == []


def test_revoking_location_is_audited(session: Session, owner: Owner) -> None:
    scene = scene_service.add_preset(session=session, customer_id=owner.customer_id, name="coming_home")
    scene_service.set_location_access(
        session=session, customer_id=owner.customer_id, scene_id=scene.id, revoked=True
    )
    assert scene.location_revoked
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "location.revoked")).one()
    assert entry.target_id == str(scene.id)


def test_proximity_needs_more_than_zone_precision(session: Session, owner: Owner) -> None:
    data = {
        "alias": "Near",
        "triggers": [{"trigger": "proximity", "entity_id": owner.car, "zone": "zone.home", "below_m": 1000}],
        "actions": [{"action": "carloop.notify", "data": {"message": "near"}}],
    }
    assert (
        "precision"
        in scene_service.save_scene(session=session, customer_id=owner.customer_id, data=data).error
    )
    data["precision"] = "km"
    assert scene_service.save_scene(session=session, customer_id=owner.customer_id, data=data).error == ""


def test_zones_come_from_homes(session: Session, owner: Owner) -> None:
    zones = service.zones_for(service.list_homes(session=session, customer_id=owner.customer_id))
    assert zones == [Zone("zone.home", PLACES["home"][0], PLACES["home"][1], 150.0)]


def test_owner_reads_who_saw_the_location(session: Session, owner: Owner) -> None:
    scene = scene_service.add_preset(session=session, customer_id=owner.customer_id, name="coming_home")
    trace = Trace(scene.id, "r1", T0, {"platform": "zone", "entity_id": owner.car}, [], "finished", T0)
    activity.save_traces(session=session, traces=[trace])
    service.set_share_precision(
        session=session, customer_id=owner.customer_id, device_id=owner.car_id, precision=Precision.KM
    )
    log = activity.location_log(session=session, customer_id=owner.customer_id)
    assert [(r["action"], r["viewer"], r["precision"]) for r in log] == [
        ("location.shared", "home_assistant", "km"),
        ("location.read", f"scene:{scene.id}", "zone"),
    ] or sorted(r["action"] for r in log) == ["location.read", "location.shared"]
    assert activity.location_log(session=session, customer_id=owner.customer_id + 1) == []
