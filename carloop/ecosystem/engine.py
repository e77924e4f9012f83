"""The scene engine, after Home Assistant's: triggers attach to sources, runs follow the scene's mode.

Pure Python with an injected clock (``at`` = POSIX seconds on every call), so the same engine runs in
the MQTT bridge, in a dry run over a recorded drive and in unit tests. It never talks to a broker or
a database: it returns ``Effect``s to carry out, finished ``Trace``s to store and the continuations of
runs waiting on a delay or a trigger (``pending``) to persist, which ``restore`` takes back after a
restart.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from carloop.ecosystem import script
from carloop.ecosystem.kinds import Precision
from carloop.ecosystem.protocol import topic_scope
from carloop.ecosystem.rules import (
    RedactedStates,
    World,
    Zone,
    as_number,
    check_all,
    location_of,
    redact_payload,
)
from carloop.ecosystem.runs import Effect, LoadedScene, Run, Watch
from carloop.ecosystem.scene_triggers import (
    MqttTrigger,
    ProximityTrigger,
    Trigger,
    ZoneTrigger,
)
from carloop.ecosystem.schemas import (
    SceneDefinition,
    WaitAction,
)
from carloop.ecosystem.traces import Trace, TraceStore
from carloop.ecosystem.triggers import event as event_platform
from carloop.ecosystem.triggers import mqtt as mqtt_platform
from carloop.ecosystem.triggers import platforms
from carloop.ecosystem.triggers.host import StateUpdate
from carloop.ecosystem.zones import Track, locate

PLATFORMS = platforms()  # trigger schema class -> its platform module

MAX_SCENE_DEPTH = script.MAX_SCENE_DEPTH


class Engine:
    """Scenes of many owners over one stream of state updates, MQTT messages and clock ticks."""

    def __init__(self, *, timezone: str = "Asia/Shanghai") -> None:
        self.tz = ZoneInfo(timezone)
        self.states: dict[str, dict[str, Any]] = {}
        self.zones_of: dict[str, frozenset[str]] = {}
        self.owner_zones: dict[int, dict[str, Zone]] = {}
        self.entity_owner: dict[str, int] = {}
        self.scenes: dict[int, LoadedScene] = {}
        self.runs: dict[str, Run] = {}
        self.by_entity: dict[str, list[Watch]] = {}
        self.by_topic: list[Watch] = []
        self.timed: list[Watch] = []
        self.by_event: list[Watch] = []
        self.deadlines: set[int] = set()  # id() of watches with a pending ``for``
        self._watch_ids: dict[int, Watch] = {}
        self.tracks: dict[tuple[str, str], Track] = {}
        self.effects: list[Effect] = []
        self.trace_store = TraceStore()
        self.pending: dict[str, dict[str, Any] | None] = {}  # run id -> continuation, None = done
        self.last_tick: float | None = None
        self.skipped = 0

    # ---- setup -------------------------------------------------------------------------------

    def set_zones(self, owner_id: int, zones: list[Zone]) -> None:
        """The zones (homes) of one owner."""
        self.owner_zones[owner_id] = {z.id: z for z in zones}

    def set_entity(self, entity_id: str, owner_id: int, state: Mapping[str, Any] | None = None) -> None:
        """Declare an owner's device, with its last known state."""
        self.entity_owner[entity_id] = owner_id
        known = self.states.setdefault(entity_id, dict(state or {}))
        if entity_id not in self.zones_of and location_of(known) is not None:
            self._zones(entity_id, known, known)  # where it was last seen: no enter/leave for that

    def attach(
        self,
        trigger: Trigger,
        on_fire: Callable[[dict[str, Any], float, Mapping[str, Any]], None],
        *,
        owner_id: int,
        precision: Precision = Precision.ZONE,
        debounce: float = 0.0,
    ) -> Callable[[], None]:
        """Start watching one trigger; returns the function that stops watching it."""
        watch = self._add(trigger, on_fire, owner_id, precision, debounce)
        return lambda: self._detach(watch)

    def _add(
        self,
        trigger: Trigger,
        on_fire: Callable[[dict[str, Any], float, Mapping[str, Any]], None],
        owner_id: int,
        precision: Precision,
        debounce: float = 0.0,
    ) -> Watch:
        watch = Watch(trigger, on_fire, owner_id, precision, debounce)
        self._watch_ids[id(watch)] = watch
        watch.detach = PLATFORMS[type(trigger)].attach(self, watch)
        return watch

    # ---- trigger platforms' host (triggers.Host) -----------------------------------------------

    def listen(self, bucket: str, key: str, watch: Watch) -> Callable[[], None]:
        """Put a watch where its input arrives; returns what takes it away again."""
        place = {
            "entity": self.by_entity.setdefault(key, []),
            "topic": self.by_topic,
            "time": self.timed,
            "event": self.by_event,
        }[bucket]
        place.append(watch)
        return lambda: place.remove(watch) if watch in place else None

    def cancel_hold(self, watch: Watch) -> None:
        """The condition stopped holding: a pending ``for`` is off."""
        self.deadlines.discard(id(watch))

    def track(self, entity_id: str, zone_id: str) -> Track | None:
        """How far a device is from a zone and which way it moves."""
        return self.tracks.get((entity_id, zone_id))

    def home_of(self, owner_id: int) -> Zone | None:
        """The owner's home zone (its first zone when none is called home)."""
        zones = self.owner_zones.get(owner_id, {})
        return zones.get("zone.home") or next(iter(zones.values()), None)

    def load(
        self, scene_id: int, owner_id: int, definition: SceneDefinition, *, location: bool = True
    ) -> None:
        """Enable a scene; ``location=False`` (revoked) leaves its zone and proximity triggers unattached."""
        self.unload(scene_id)
        scene = LoadedScene(scene_id, owner_id, definition, location)
        self.scenes[scene_id] = scene
        for trigger in definition.triggers:
            if not location and isinstance(trigger, ZoneTrigger | ProximityTrigger):
                continue
            watch = self._add(
                trigger,
                functools.partial(self._trigger_from, scene),
                owner_id,
                definition.precision,
                definition.debounce,
            )
            watch.location = location
            scene.watches.append(watch)

    def unload(self, scene_id: int, at: float | None = None) -> None:
        """Disable a scene: stop its triggers and abort its runs."""
        scene = self.scenes.pop(scene_id, None)
        if scene is None:
            return
        for watch in scene.watches:
            self._detach(watch)
        for run_id in list(scene.active):
            self.finish(self.runs[run_id], at if at is not None else (self.last_tick or 0.0), "aborted")
        self.trace_store.forget(scene_id)

    def _detach(self, watch: Watch) -> None:
        self._watch_ids.pop(id(watch), None)
        self.deadlines.discard(id(watch))
        if watch.detach is not None:
            watch.detach()
            watch.detach = None

    def traces(self, scene_id: int) -> list[Trace]:
        """The last runs of a scene kept in memory, newest first."""
        scene = self.scenes.get(scene_id)
        return self.trace_store.of(scene_id) if scene else []

    def drain(self) -> tuple[list[Effect], list[Trace], dict[str, dict[str, Any] | None]]:
        """Hand over (and forget) effects, finished traces and continuation changes."""
        out = (self.effects, self.trace_store.drain(), self.pending)
        self.effects, self.pending = [], {}
        return out

    # ---- inputs ------------------------------------------------------------------------------

    def update(
        self, entity_id: str, changes: Mapping[str, Any], at: float, cause: Mapping[str, Any] | None = None
    ) -> list[Effect]:
        """A device reported state (telemetry); returns the effects it caused."""
        cause = cause or {}
        self._due(at)
        old = self.states.get(entity_id, {})
        new = {**old, **changes}
        self.states[entity_id] = new
        report = StateUpdate(entity_id, old, new, changes, self._zones(entity_id, new, changes), at, cause)
        for watch in list(self.by_entity.get(entity_id, ())):
            PLATFORMS[type(watch.trigger)].on_state(self, watch, report)
        return self._take_effects()

    def message(self, topic: str, payload: str, at: float) -> list[Effect]:
        """An MQTT message arrived on a topic some scene may watch."""
        self._due(at)
        scope = topic_scope(topic)
        for watch in list(self.by_topic):
            t = watch.trigger
            assert isinstance(t, MqttTrigger)
            if not mqtt_platform.matches(watch, topic, payload):
                continue
            if not self._owns(watch.owner_id, scope):
                continue  # a scene hears only its owner's topics, whatever filter it was saved with
            visible = self._visible_payload(watch, scope, payload)
            self.fire(watch, {"platform": "mqtt", "id": t.id, "topic": topic, "payload": visible}, at, {})
        return self._take_effects()

    def _owns(self, owner_id: int, scope: tuple[str, str | int] | None) -> bool:
        """Whether a topic of ``scope`` is the owner's: their own space or one of their devices."""
        if scope is None:
            return False
        what, ident = scope
        if what == "owner":
            return ident == owner_id
        return self.entity_owner.get(str(ident)) == owner_id

    def _visible_payload(self, watch: Watch, scope: tuple[str, str | int] | None, payload: str) -> str:
        """A device topic's payload as the scene's precision allows (its traces keep only that)."""
        if scope is None or scope[0] != "entity" or (watch.location and watch.precision is Precision.EXACT):
            return payload
        precision = watch.precision if watch.location else Precision.ZONE
        zones = sorted(self.zones_of.get(str(scope[1]), ())) if watch.location else []
        return redact_payload(payload, precision, zones)

    def tick(self, at: float) -> list[Effect]:
        """The clock moved on: time triggers, due delays, wait timeouts and ``for`` durations."""
        self._due(at)
        previous = self.last_tick if self.last_tick is not None else at
        if at > previous:
            for watch in list(self.timed):
                hit = PLATFORMS[type(watch.trigger)].hit(self, watch, previous, at)
                if hit is not None:
                    self.fire(watch, {"platform": watch.trigger.trigger, "id": watch.trigger.id}, hit, {})
        self.last_tick = max(at, previous)
        return self._take_effects()

    def _take_effects(self) -> list[Effect]:
        if not self.effects:
            return []
        out = self.effects
        self.effects = []
        return out

    def local(self, at: float) -> datetime:
        """An instant in the owners' time zone."""
        return datetime.fromtimestamp(at, UTC).astimezone(self.tz)

    # ---- zones and triggers ------------------------------------------------------------------

    def _zones(
        self, entity_id: str, state: Mapping[str, Any], changes: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        where = location_of(changes)
        owner = self.entity_owner.get(entity_id)
        if where is None or owner is None:
            return []
        inside, events = locate(
            entity_id,
            where,
            as_number(changes.get("accuracy")),
            self.owner_zones.get(owner, {}).values(),
            self.zones_of.get(entity_id),
            self.tracks,
        )
        self.zones_of[entity_id] = inside
        return events

    def held(
        self, watch: Watch, for_: float | None, tvars: dict[str, Any], at: float, cause: Mapping[str, Any]
    ) -> None:
        """Fire now, or once the condition has held ``for`` seconds."""
        if not for_:
            self.fire(watch, tvars, at, cause)
            return
        watch.deadline, watch.pending_vars = at + for_, {**tvars, "for": for_, "cause": dict(cause)}
        self.deadlines.add(id(watch))

    def fire(self, watch: Watch, tvars: dict[str, Any], at: float, cause: Mapping[str, Any]) -> None:
        """A trigger fired: start its scene (unless its debounce holds it back)."""
        if watch.debounce and watch.last_fired is not None and at - watch.last_fired < watch.debounce:
            self.skipped += 1
            return
        watch.last_fired = at
        watch.on_fire(tvars, at, cause)

    def _due(self, at: float) -> None:
        """Fire ``for`` deadlines, resume delays and time out waits that are due at ``at``."""
        for watch_key in sorted(self.deadlines, key=lambda k: self._watch_ids[k].deadline or 0.0):
            watch = self._watch_ids[watch_key]
            if watch.deadline is not None and watch.deadline <= at:
                self.deadlines.discard(watch_key)
                tvars = dict(watch.pending_vars or {})
                cause = tvars.pop("cause", {})
                self.fire(watch, tvars, watch.deadline, cause)
        for run in sorted(
            (r for r in self.runs.values() if r.resume_at is not None and r.resume_at <= at),
            key=lambda r: r.resume_at or 0.0,
        ):
            due = run.resume_at or at
            run.resume_at = None
            if run.waiting is not None:
                self._end_wait(run, None, due)
            else:
                run.trace.steps.append({"at": due, "step": "resumed", "late_s": round(at - due, 3)})
                self._execute(run, at)

    # ---- runs --------------------------------------------------------------------------------

    def _trigger_from(
        self, scene: LoadedScene, tvars: dict[str, Any], at: float, cause: Mapping[str, Any]
    ) -> None:
        depth = int(tvars.pop("_depth", 0))  # events fired by runs carry their nesting
        self._trigger_scene(scene, tvars, at, cause, depth)

    def _trigger_scene(
        self, scene: LoadedScene, tvars: dict[str, Any], at: float, cause: Mapping[str, Any], depth: int
    ) -> None:
        if scene.id not in self.scenes:
            return
        mode, limit = scene.definition.mode, scene.definition.max
        if scene.active:
            if mode == "single" or (mode == "parallel" and len(scene.active) >= limit):
                self.skipped += 1
                return
            if mode == "restart":
                for run_id in list(scene.active):
                    self.finish(self.runs[run_id], at, "restarted")
            elif mode == "queued":
                if len(scene.queue) < limit:
                    scene.queue.append(({**tvars, "_depth": depth}, cause))
                else:
                    self.skipped += 1
                return
        self._start(scene, tvars, at, cause, depth)

    def _world(
        self,
        scene: LoadedScene,
        at: float,
        trigger_id: str | None,
        variables: Mapping[str, Any] | None = None,
    ) -> World:
        return World(
            states=RedactedStates(
                self.states, self.zones_of, scene.definition.precision, scene.location_allowed
            ),
            zones_of=self.zones_of if scene.location_allowed else {},
            local_now=self.local(at),
            trigger_id=trigger_id,
            variables=variables,
        )

    def _start(
        self, scene: LoadedScene, tvars: dict[str, Any], at: float, cause: Mapping[str, Any], depth: int
    ) -> None:
        run_id = uuid.uuid4().hex
        visible = {k: v for k, v in tvars.items() if v is not None}
        trace = Trace(scene.id, run_id, at, visible)
        world = self._world(scene, at, tvars.get("id"), {"trigger": visible})
        ok, results = check_all(scene.definition.conditions, world)
        trace.steps.append({"at": at, "step": "conditions", "passed": ok, "results": results})
        run = Run(
            scene, run_id, list(scene.definition.actions), {"trigger": visible, "depth": depth}, trace, cause
        )
        self.runs[run_id] = run
        scene.active.append(run_id)
        if not ok:
            self.finish(run, at, "condition_failed")
            return
        self._execute(run, at)

    def _execute(self, run: Run, at: float) -> None:
        script.execute(self, run, at)

    # ---- the script runner's host (script.Host) --------------------------------------------------

    def world(self, scene: LoadedScene, at: float, variables: Mapping[str, Any]) -> World:
        """What a run's conditions and templates may see."""
        trigger = variables.get("trigger") or {}
        return self._world(scene, at, trigger.get("id"), variables)

    def effect(self, kind: str, run: Run, entity_id: str | None, command: str, args: dict[str, Any]) -> None:
        """Something for the bridge to do."""
        self.effects.append(Effect(kind, run.scene.id, run.run_id, entity_id, command, args, run.cause))

    def run_scene(self, run: Run, name: str, at: float) -> bool:
        """Start another scene of the same owner by name; False if there is none."""
        other = self._scene_named(run.scene.owner_id, name)
        depth = int(run.variables.get("depth", 0)) + 1
        if other is not None and depth <= MAX_SCENE_DEPTH:
            self._trigger_scene(
                other, {"platform": "scene", "id": None, "from": run.scene.id}, at, run.cause, depth
            )
        return other is not None

    def fire_event(
        self, owner_id: int, event_type: str, data: dict[str, Any], at: float, depth: int = 0
    ) -> None:
        """An event in one owner's space: their scenes' ``event`` triggers that match it fire."""
        for watch in list(self.by_event):
            event_platform.on_event(self, watch, owner_id, event_type, data, at, depth)

    def event(self, owner_id: int, event_type: str, data: Mapping[str, Any], at: float) -> list[Effect]:
        """An event from outside the engine (the owner's app); returns the effects it caused."""
        self._due(at)
        self.fire_event(owner_id, event_type, dict(data), at)
        return self._take_effects()

    def wait(self, run: Run, action: WaitAction, at: float) -> None:
        """Wait for one of the action's triggers (or its timeout)."""
        run.waiting = action
        run.resume_at = at + action.timeout if action.timeout is not None else None
        for trigger in action.wait_for_trigger:
            watch = self._add(
                trigger,
                functools.partial(self._wait_fired, run),
                run.scene.owner_id,
                run.scene.definition.precision,
            )
            run.wait_watches.append(watch)

    def _wait_fired(self, run: Run, tvars: dict[str, Any], at: float, _cause: Mapping[str, Any]) -> None:
        self._end_wait(run, tvars, at)

    def _end_wait(self, run: Run, tvars: dict[str, Any] | None, at: float) -> None:
        if run.waiting is None or run.run_id not in self.runs:
            return
        for watch in run.wait_watches:
            self._detach(watch)
        waiting, run.waiting, run.wait_watches, run.resume_at = run.waiting, None, [], None
        run.variables["wait"] = {"trigger": tvars}
        run.trace.steps.append({"at": at, "step": "wait_ended", "timed_out": tvars is None})
        if tvars is None and not waiting.continue_on_timeout:
            self.finish(run, at, "wait_timeout")
            return
        self._execute(run, at)

    def finish(self, run: Run, at: float, outcome: str) -> None:
        """End a run with its outcome; start the next queued one."""
        for watch in run.wait_watches:
            self._detach(watch)
        self.runs.pop(run.run_id, None)
        scene = run.scene
        if run.run_id in scene.active:
            scene.active.remove(run.run_id)
        self.trace_store.finish(run.trace, at, outcome)
        self.pending[run.run_id] = None
        if scene.queue and scene.id in self.scenes and not scene.active:
            tvars, cause = scene.queue.pop(0)
            tvars = dict(tvars)
            self._start(scene, tvars, at, cause, int(tvars.pop("_depth", 0)))

    def _scene_named(self, owner_id: int, name: str) -> LoadedScene | None:
        return next(
            (s for s in self.scenes.values() if s.owner_id == owner_id and s.definition.alias == name), None
        )

    # ---- persistence of waiting runs -----------------------------------------------------------

    def restore(self, continuation: Mapping[str, Any]) -> bool:
        """Take back a run that was waiting when the process stopped; False if its scene is gone."""
        scene = self.scenes.get(int(continuation["scene_id"]))
        if scene is None or continuation["run_id"] in self.runs:
            return False
        run, waiting = script.restored(scene, continuation, self.last_tick)
        self.runs[run.run_id] = run
        scene.active.append(run.run_id)
        if waiting is not None:
            resume_at = run.resume_at
            self.wait(run, waiting, 0.0)
            run.resume_at = resume_at
        return True
