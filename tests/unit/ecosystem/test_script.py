"""The script runner and its Home Assistant actions: repeat, variables, sequence, parallel, stop,
event triggers, sandboxed templates; every run leaves a trace in the trace store."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from carloop.ecosystem.engine import Effect, Engine
from carloop.ecosystem.schemas import SceneDefinition
from carloop.ecosystem.templates import TemplateError, render, render_value

OWNER, OTHER = 1, 2
CAR, LIGHT, AC = "vehicle.1", "light.2", "climate.3"
T0 = 1_780_000_000.0


def notify(message: str) -> dict[str, Any]:
    return {"action": "carloop.notify", "data": {"message": message}}


def command(entity_id: str, name: str = "turn_on", **args: Any) -> dict[str, Any]:
    return {
        "action": "carloop.command",
        "target": {"entity_id": entity_id},
        "data": {"command": name, "args": args},
    }


def on_event(actions: list[dict[str, Any]], event: str = "go", **extra: Any) -> SceneDefinition:
    return SceneDefinition.model_validate(
        {
            "alias": f"on {event}",
            "triggers": [{"trigger": "event", "event_type": event}],
            "actions": actions,
            **extra,
        }
    )


def run(*definitions: SceneDefinition, data: dict[str, Any] | None = None) -> tuple[Engine, list[Effect]]:
    engine = Engine()
    for entity_id in (CAR, LIGHT, AC):
        engine.set_entity(entity_id, OWNER, {"state": "off", "battery": 18})
    for i, definition in enumerate(definitions, start=1):
        engine.load(i, OWNER, definition)
    return engine, engine.event(OWNER, "go", data or {}, T0)


def messages(effects: list[Effect]) -> list[str]:
    return [e.args["message"] for e in effects if e.kind == "notify"]


def test_repeat_count_runs_the_sequence_that_many_times_with_its_index() -> None:
    _, effects = run(on_event([{"repeat": {"count": 3, "sequence": [notify("round {{ repeat.index }}")]}}]))
    assert messages(effects) == ["round 1", "round 2", "round 3"]


def test_repeat_while_and_until_follow_their_conditions() -> None:
    below = {"condition": "template", "value_template": "{{ repeat.index <= 2 }}"}
    _, effects = run(on_event([{"repeat": {"while": [below], "sequence": [notify("w{{ repeat.index }}")]}}]))
    assert messages(effects) == ["w1", "w2"]
    done = {"condition": "template", "value_template": "{{ repeat.index >= 3 }}"}
    _, effects = run(on_event([{"repeat": {"until": [done], "sequence": [notify("u{{ repeat.index }}")]}}]))
    assert messages(effects) == ["u1", "u2", "u3"]


def test_a_repeat_that_waits_is_stored_and_resumes_with_its_count() -> None:
    definition = on_event(
        [{"repeat": {"count": 2, "sequence": [notify("tick {{ repeat.index }}"), {"delay": 60}]}}]
    )
    engine, effects = run(definition)
    assert messages(effects) == ["tick 1"]
    _, _, pending = engine.drain()
    [continuation] = [c for c in pending.values() if c]
    restarted = Engine()
    restarted.load(1, OWNER, definition)
    assert restarted.restore(continuation)
    restarted.last_tick = T0
    assert messages(restarted.tick(T0 + 61)) == ["tick 2"]
    assert messages(restarted.tick(T0 + 122)) == []
    [trace] = restarted.trace_store.drain()
    assert trace.outcome == "finished"


def test_variables_and_trigger_data_reach_templates() -> None:
    definition = on_event(
        [
            {"variables": {"room": "living", "target": "{{ trigger.event.data.temp | int + 1 }}"}},
            command(AC, "set_temperature", temperature="{{ target }}"),
            notify("{{ room }}: {{ states('vehicle.1', 'battery') }}% at {{ now().hour }}h"),
        ]
    )
    _, effects = run(definition, data={"temp": "23"})
    assert effects[0].args == {"temperature": 24}
    assert messages(effects) == ["living: 18% at 4h"]  # the injected clock, Shanghai time


def test_sequence_and_parallel_run_every_branch_and_stop_ends_the_run() -> None:
    definition = on_event(
        [
            {"parallel": [command(LIGHT), {"sequence": [command(AC), notify("both")]}]},
            {"stop": "enough"},
            notify("never"),
        ]
    )
    engine, effects = run(definition)
    assert [(e.kind, e.entity_id) for e in effects] == [
        ("command", LIGHT),
        ("command", AC),
        ("notify", None),
    ]
    [trace] = engine.trace_store.drain()
    assert trace.outcome == "stopped"
    assert [s["step"] for s in trace.steps] == [
        "conditions",
        "parallel",
        "command",
        "sequence",
        "command",
        "notify",
        "stop",
    ]


def test_parallel_branches_may_not_wait() -> None:
    with pytest.raises(ValidationError, match="parallel branches cannot"):
        on_event([{"parallel": [{"sequence": [{"delay": 5}]}, command(LIGHT)]}])
    with pytest.raises(ValidationError, match="exactly one of count, while or until"):
        on_event([{"repeat": {"count": 2, "until": [], "sequence": [command(LIGHT)]}}])


def test_an_event_fired_by_one_scene_starts_the_owners_other_scenes_only() -> None:
    sender = on_event([{"event": "car_home", "event_data": {"who": "{{ 'me' }}"}}])
    listener = SceneDefinition.model_validate(
        {
            "alias": "listener",
            "triggers": [{"trigger": "event", "event_type": "car_home", "event_data": {"who": "me"}}],
            "actions": [notify("heard {{ trigger.event.data.who }}")],
        }
    )
    engine, effects = run(sender, listener)
    assert messages(effects) == ["heard me"]
    engine.load(3, OTHER, listener)  # another owner's listener hears nothing
    assert messages(engine.event(OWNER, "go", {}, T0 + 60)) == ["heard me"]


def test_events_cannot_loop_forever() -> None:
    for mode in ("queued", "parallel"):
        loop = on_event([{"event": "go"}, notify("again")], mode=mode, debounce=0)
        _, effects = run(loop)
        assert len(messages(effects)) == 6  # the first run and five nested ones


def test_a_template_that_reaches_for_internals_ends_the_run_with_an_error() -> None:
    engine, effects = run(on_event([notify("{{ ''.__class__.__mro__[1].__subclasses__() }}")]))
    assert effects == []
    [trace] = engine.trace_store.drain()
    assert trace.outcome == "error" and "error" in trace.steps[-1]


def test_template_condition_decides_whether_the_run_goes_on() -> None:
    low = {"condition": "template", "value_template": "{{ states('vehicle.1', 'battery') < 20 }}"}
    _, effects = run(on_event([notify("low")], conditions=[low]))
    assert messages(effects) == ["low"]
    high = {"condition": "template", "value_template": "{{ states('vehicle.1', 'battery') > 20 }}"}
    _, effects = run(on_event([notify("high")], conditions=[high]))
    assert effects == []


def test_templates_are_sandboxed_and_bounded() -> None:
    assert render("{{ 1 + 2 }}", {}) == "3"
    assert render_value({"n": "{{ 2 * 3 }}", "s": "{{ 'a' }}", "plain": "x"}, {}) == {
        "n": 6,
        "s": "a",
        "plain": "x",
    }
    assert render("{{ x.__class__.__base__ }}", {"x": 1}) == ""  # internals are not there to read
    with pytest.raises(TemplateError):
        render("{% for i in range(10**6) %}x{% endfor %}", {})
    with pytest.raises(TemplateError):
        render("{{ " * 600, {})


def test_a_template_that_does_not_parse_makes_the_scene_invalid_and_yaml_keeps_no_runner_state() -> None:
    from carloop.ecosystem.schemas import dump_scene

    with pytest.raises(ValidationError, match="template syntax error"):
        on_event([notify("x")], conditions=[{"condition": "template", "value_template": "{{ 1 + }}"}])
    stored = dump_scene(on_event([{"repeat": {"count": 2, "sequence": [notify("x")]}}]))
    assert stored["actions"] == [
        {
            "repeat": {
                "count": 2,
                "sequence": [{"action": "carloop.notify", "data": {"message": "x"}}],
            }
        }
    ]


def test_sunrise_and_sunset_at_the_owners_home() -> None:
    from datetime import UTC, date, datetime

    from carloop.ecosystem.triggers.sun import sun_times

    times = sun_times(date(2026, 6, 21), 31.2196, 121.5447)  # Shanghai, midsummer
    assert times is not None
    rise, set_ = (datetime.fromtimestamp(t, UTC) for t in times)
    assert (rise.hour, abs(rise.minute - 50) <= 5) == (20, True)  # 04:50 Shanghai time
    assert (set_.hour, abs(set_.minute - 1) <= 5) == (11, True)  # 19:01 Shanghai time
    assert sun_times(date(2026, 6, 21), 80.0, 15.0) is None  # polar day: no sunset


def test_a_sun_trigger_fires_once_a_day_at_its_offset() -> None:
    from carloop.ecosystem.rules import Zone

    engine = Engine()
    engine.set_zones(OWNER, [Zone("zone.home", 31.2196, 121.5447, radius_m=150)])
    engine.load(
        1,
        OWNER,
        SceneDefinition.model_validate(
            {
                "alias": "dusk",
                "triggers": [{"trigger": "sun", "event": "sunset", "offset": "-00:30:00"}],
                "actions": [notify("{{ trigger.platform }}")],
            }
        ),
    )
    engine.last_tick = T0
    fired = []
    for hour in range(1, 49):
        fired += [(hour, m) for m in messages(engine.tick(T0 + hour * 3600))]
    assert [m for _, m in fired] == ["sun", "sun"]
    assert fired[1][0] - fired[0][0] == 24


def test_every_trigger_platform_attaches_and_detaches() -> None:
    from carloop.ecosystem.schemas import TriggerList

    engine = Engine()
    triggers = TriggerList.validate_python(
        [
            {"trigger": "zone", "entity_id": CAR, "zone": "zone.home"},
            {"trigger": "proximity", "entity_id": CAR, "zone": "zone.home", "below_m": 500},
            {"trigger": "state", "entity_id": LIGHT, "to": "on"},
            {"trigger": "numeric_state", "entity_id": CAR, "attribute": "battery", "below": 20},
            {"trigger": "device", "device_id": LIGHT, "type": "turned_on"},
            {"trigger": "time", "at": "07:00"},
            {"trigger": "time_pattern", "minutes": "/5"},
            {"trigger": "mqtt", "topic": "carloop/v1/owner/1/x"},
            {"trigger": "event", "event_type": "go"},
            {"trigger": "sun", "event": "sunrise"},
        ]
    )

    def listening() -> int:
        return (
            sum(map(len, engine.by_entity.values()))
            + len(engine.by_topic)
            + len(engine.timed)
            + len(engine.by_event)
        )

    stops = [engine.attach(t, lambda *_: None, owner_id=OWNER) for t in triggers]
    assert listening() == len(triggers)
    for stop in stops:
        stop()
    assert listening() == 0
