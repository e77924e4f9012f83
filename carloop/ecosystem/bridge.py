"""The MQTT bridge: device states into the scene engine, effects out as commands, HA discovery.

The bridge is where privacy is enforced: scenes see locations only through the engine's precision
filter, and Home Assistant receives a car's state cut to the precision the owner chose for it.
Traces, waiting runs and device states are handed to a ``sink`` from the tick thread, never from the
message path, so storing them does not delay commands.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from carloop.ecosystem.discovery import (
    ha_state,
    location_state,
    parse_ha_command,
    retired_topics,
    vehicle_configs,
)
from carloop.ecosystem.engine import Effect, Engine, Trace
from carloop.ecosystem.models import Precision
from carloop.ecosystem.mqtt import MqttClient
from carloop.ecosystem.protocol import (
    AVAILABILITY_FILTER,
    BRIDGE_STATUS,
    HA_COMMAND_FILTER,
    HA_STATUS,
    OFFLINE,
    ONLINE,
    STATE_FILTER,
    availability_topic,
    command_topic,
    entity_of,
    ha_command_topic,
    ha_location_topic,
    ha_state_topic,
    new_command,
    notify_topic,
    parse_state,
    state_topic,
)
from carloop.ecosystem.scene_triggers import (
    MqttTrigger,
)

log = logging.getLogger("carloop.ecosystem")

# Traces kept for the next tick while the database refuses writes (states and waiting runs are kept in
# full: one entry per car or run); older traces go first: they are a log, the states are the truth.
UNSAVED_TRACES_MAX = 10_000
# Messages kept while a sharded bridge's lease is not current, for the beat that tells what is still its own.
HELD_BACK_MAX = 100_000
Sink = Callable[[list[Trace], dict[str, dict[str, Any] | None], dict[str, dict[str, Any]]], None]
OnMessage = Callable[[str, bytes], None]


@dataclass
class VehicleInfo:
    """What the bridge publishes to Home Assistant about one car."""

    name: str
    model: str = ""
    share: Precision = Precision.ZONE
    language: str = "zh_CN"  # of the entity names Home Assistant shows (the owner's choice)


@dataclass
class Bridge:
    """Runs one engine against one MQTT connection."""

    client: MqttClient
    engine: Engine
    sink: Sink | None = None
    vehicles: dict[str, VehicleInfo] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    ha_enabled: bool = True
    # One of several bridges, each serving a share of the cars (membership.py): it subscribes to the
    # topics of the devices it ``follow``s instead of every device's.
    sharded: bool = False
    # Where this bridge says ``online``/``offline`` (its client's last will says ``offline`` there too),
    # named as the availability of the cars it serves in their discovery configs. A sharded bridge has
    # its own (``protocol.bridge_status_topic``): a bridge that stops or dies makes only its cars
    # unavailable, and the bridge that takes them over names its own topic in their configs.
    status_topic: str = BRIDGE_STATUS
    # A sharded bridge's fence (``Shares.current``): while it says False this bridge may have lost its
    # cars to another without knowing yet (it stalled past its lease), so it acts on nothing, saves
    # nothing and announces nothing; messages wait in order for ``replay`` after the next beat, which
    # has forgotten the cars another bridge took meanwhile. None: one bridge serves every car.
    leased: Callable[[], bool] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one tick at a time: a hand-over's flush waits for the ticker's
        self._dirty: dict[str, dict[str, Any]] = {}
        # what the last sink call failed to save, handed over again by the next tick
        self._unsaved: (
            tuple[list[Trace], dict[str, dict[str, Any] | None], dict[str, dict[str, Any]]] | None
        ) = None
        self._topics: set[str] = set()
        self._ha_sent: dict[str, str] = {}
        self._configs_sent: dict[str, dict[str, str]] = {}  # entity id -> discovery topic -> config
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._followed: set[str] = set()
        self._gate = threading.RLock()  # orders held-back messages before any that arrive after them
        self._held_back: deque[tuple[OnMessage, str, bytes]] = deque(maxlen=HELD_BACK_MAX)
        self.held_back_dropped = 0
        self.commands_sent = 0

    def start(self, *, tick_interval: float | None = 0.25, freeze_gc: bool = False) -> None:
        """Subscribe, announce the bridge online and the cars to Home Assistant, start ticking.

        ``freeze_gc`` (servers and benchmarks, not tests): move everything loaded so far (the engine
        with every owner's scenes) out of the garbage collector's sight; with 1,000 scenes a full
        collection otherwise costs ~100 ms of CPU in the middle of the message path, ~4 ms after.
        """
        if freeze_gc:
            gc.collect()
            gc.freeze()
        if not self.sharded:
            self.client.subscribe(STATE_FILTER, self._gated(self._on_state))
            self.client.subscribe(HA_COMMAND_FILTER, self._gated(self._on_ha_command))
            self.client.subscribe(AVAILABILITY_FILTER, self._gated(self._on_availability))
        self.client.subscribe(HA_STATUS, self._gated(self._on_ha_status))
        self.watch_mqtt_topics()
        self.client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        self.publish_discovery()
        if tick_interval:
            self._thread = threading.Thread(
                target=self._run, args=(tick_interval,), name="carloop-bridge", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop ticking, hand over what is left and say ``offline`` (Home Assistant's entities go
        unavailable at once instead of showing the last state as if it were current)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.tick()
        self.client.publish(self.status_topic, OFFLINE, qos=1, retain=True)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.tick()
            except Exception:  # the bridge must keep running; the error is logged
                log.exception("bridge tick failed")

    def watch_mqtt_topics(self) -> None:
        """Subscribe to the topics that scenes' MQTT triggers watch."""
        with self._lock:
            wanted = {w.trigger.topic for w in self.engine.by_topic if isinstance(w.trigger, MqttTrigger)}
        for topic in wanted - self._topics:
            self.client.subscribe(topic, self._gated(self._on_mqtt))
            self._topics.add(topic)

    def follow(self, entity_ids: set[str]) -> None:
        """A sharded bridge: also receive these devices' states, availability and Home Assistant
        commands (retained states arrive at once: the device's latest state after a hand-over)."""
        new = sorted(entity_ids - self._followed)
        if not self.sharded or not new:
            return
        self._followed.update(new)
        self.client.subscribe_many([availability_topic(e) for e in new], self._gated(self._on_availability))
        self.client.subscribe_many([ha_command_topic(e) for e in new], self._gated(self._on_ha_command))
        self.client.subscribe_many([state_topic(e) for e in new], self._gated(self._on_state))

    def unfollow(self, entity_ids: set[str]) -> None:
        """A sharded bridge: stop receiving these devices' topics (handed to another bridge)."""
        gone = sorted(entity_ids & self._followed)
        if not gone:
            return
        self._followed.difference_update(gone)
        for entity_id in gone:  # if it comes back, its configs must name this bridge again
            self._configs_sent.pop(entity_id, None)
            self._ha_sent.pop(entity_id, None)
            self._ha_sent.pop(f"{entity_id}/location", None)
        topics = [f(e) for e in gone for f in (state_topic, availability_topic, ha_command_topic)]
        self.client.unsubscribe(topics)

    def followed(self) -> frozenset[str]:
        """The devices a sharded bridge receives."""
        return frozenset(self._followed)

    # ---- fencing -----------------------------------------------------------------------------

    def current(self) -> bool:
        """Whether this bridge may act now (always, unless it is sharded and its lease is not current)."""
        return self.leased is None or self.leased()

    def _gated(self, handler: OnMessage) -> OnMessage:
        """``handler`` behind the fence: past the lease, and until the messages held back then have been
        replayed, a message waits its turn instead of being handled."""

        def receive(topic: str, payload: bytes) -> None:
            if self.leased is not None:
                with self._gate:
                    if self._held_back or not self.leased():
                        if len(self._held_back) == HELD_BACK_MAX:
                            self.held_back_dropped += 1  # the oldest goes: a bounded wait, not a leak
                        self._held_back.append((handler, topic, payload))
                        return
            handler(topic, payload)

        return receive

    def replay(self) -> int:
        """Handle, in their order, the messages held back while the lease was not current (called after
        a beat: cars handed to another bridge meanwhile are no longer known here and are ignored);
        how many. Messages arriving meanwhile wait behind them."""
        if not self.current():
            return 0
        with self._gate:
            held, count = self._held_back, len(self._held_back)
            while held:
                handler, topic, payload = held.popleft()
                try:
                    handler(topic, payload)
                except Exception:
                    log.exception("replaying a held-back message on %s failed", topic)
        if count:
            log.info("bridge replayed %d messages held back while its lease was not current", count)
        return count

    def forget_unsaved(self, entities: set[str], scenes: set[int]) -> None:
        """Drop what was not saved yet for cars and scenes another bridge serves now: it loaded them
        from the database, and writing this bridge's older view over it would turn its clock back."""

        def theirs(continuation: dict[str, Any] | None) -> bool:
            return continuation is not None and int(continuation["scene_id"]) in scenes

        with self._flushing, self._lock:
            for entity_id in entities:
                self._dirty.pop(entity_id, None)
            self.engine.pending = {r: c for r, c in self.engine.pending.items() if not theirs(c)}
            if self._unsaved is not None:
                traces, pending, dirty = self._unsaved
                pending = {r: c for r, c in pending.items() if not theirs(c)}
                dirty = {e: s for e, s in dirty.items() if e not in entities}
                self._unsaved = (traces, pending, dirty)

    # ---- messages ----------------------------------------------------------------------------

    def _on_state(self, topic: str, payload: bytes) -> None:
        entity_id = entity_of(topic)
        if entity_id is None or entity_id not in self.engine.entity_owner:
            return  # not a paired device: ignored
        try:
            state = parse_state(payload)
        except ValueError:
            log.warning("bad state payload on %s", topic)
            return
        cause = {"entity_id": entity_id, "seq": state.get("seq"), "ts": state.get("ts")}
        with self._lock:
            if entity_id not in self.engine.entity_owner:
                return  # handed to another bridge while the message was on its way
            effects = self.engine.update(entity_id, state, self.clock(), cause)
            self._dirty.setdefault(entity_id, {}).update(state)
            zones = sorted(self.engine.zones_of.get(entity_id, ()))
            full = dict(self.engine.states[entity_id])
            owner_zones = self.engine.owner_zones.get(self.engine.entity_owner[entity_id], {})
        self._carry_out(effects)
        info = self.vehicles.get(entity_id)
        if info is not None and self.ha_enabled:
            body = ha_state(full, info.share, zones, owner_zones)
            if self._ha_sent.get(entity_id) != body:  # unchanged at the shared precision: nothing to say
                self._ha_sent[entity_id] = body
                self.client.publish(ha_state_topic(entity_id), body, retain=True)
                where = location_state(zones)
                if self._ha_sent.get(f"{entity_id}/location") != where:
                    self._ha_sent[f"{entity_id}/location"] = where
                    self.client.publish(ha_location_topic(entity_id), where, retain=True)

    def _on_availability(self, topic: str, payload: bytes) -> None:
        entity_id = entity_of(topic)
        if entity_id is None or entity_id not in self.engine.entity_owner:
            return
        online = payload.decode(errors="replace").strip() == ONLINE
        with self._lock:
            self._dirty.setdefault(entity_id, {})["online"] = online

    def _on_mqtt(self, topic: str, payload: bytes) -> None:
        with self._lock:
            effects = self.engine.message(topic, payload.decode(errors="replace"), self.clock())
        self._carry_out(effects)

    def _on_ha_command(self, topic: str, payload: bytes) -> None:
        entity_id = entity_of(topic)
        if entity_id is None or entity_id not in self.vehicles:
            return
        try:
            command, args = parse_ha_command(payload)
        except (ValueError, TypeError) as err:
            log.warning("refused Home Assistant command on %s: %s", topic, err)
            return
        self.send(entity_id, command, args, source="home_assistant")

    def _on_ha_status(self, topic: str, payload: bytes) -> None:
        if payload.decode(errors="replace").strip() == ONLINE:
            self._ha_sent.clear()
            self._configs_sent.clear()
            self.publish_discovery()  # Home Assistant restarted: it forgets non-retained state

    def send(
        self, entity_id: str, command: str, args: Mapping[str, Any], *, source: str, cause: Any = None
    ) -> None:
        """Send one command to a device, stamped with an id and an expiry."""
        message = new_command(command, dict(args), source=source, cause=cause, now=self.clock())
        self.client.publish(command_topic(entity_id), message.to_json(), qos=1)
        self.commands_sent += 1

    def _carry_out(self, effects: list[Effect]) -> None:
        for effect in effects:
            source = f"scene:{effect.scene_id}"
            cause = dict(effect.cause) or None
            if effect.kind == "command" and effect.entity_id:
                self.send(effect.entity_id, effect.command, effect.args, source=source, cause=cause)
            elif effect.kind == "destination" and effect.entity_id:
                self.send(effect.entity_id, "navigate", effect.args, source=source, cause=cause)
            elif effect.kind == "notify":
                owner = (
                    self.engine.scenes[effect.scene_id].owner_id
                    if effect.scene_id in self.engine.scenes
                    else 0
                )
                body = {**effect.args, "scene_id": effect.scene_id, "at": self.clock()}
                self.client.publish(notify_topic(owner), json.dumps(body), qos=1)

    # ---- clock and hand-over -------------------------------------------------------------------

    def tick(self) -> None:
        """Advance the engine's clock and hand traces, waiting runs and states to the sink.

        What a failed sink did not save (the database was locked or down) is kept and handed over
        again, under anything newer, on the next tick: a car's last state or a waiting run's
        continuation is never dropped because one write failed. Past its lease a sharded bridge does
        nothing here: no timer fires and nothing is written until a beat says which cars are still its.
        """
        if not self.current():
            return
        with self._flushing:
            with self._lock:
                effects = self.engine.tick(self.clock())
                leftover, traces, pending = self.engine.drain()
                dirty, self._dirty = self._dirty, {}
            self._carry_out(effects + leftover)
            if self._unsaved is not None:
                old_traces, old_pending, old_dirty = self._unsaved
                traces = (old_traces + traces)[-UNSAVED_TRACES_MAX:]
                pending = {**old_pending, **pending}
                dirty = {
                    e: {**old_dirty.get(e, {}), **dirty.get(e, {})} for e in old_dirty.keys() | dirty.keys()
                }
                self._unsaved = None
            if self.sink is not None and (traces or pending or dirty):
                try:
                    self.sink(traces, pending, dirty)
                except Exception:
                    self._unsaved = (traces, pending, dirty)
                    raise

    def publish_discovery(self) -> None:
        """Publish (retained) Home Assistant discovery configs for every car."""
        if not self.ha_enabled or not self.current():
            return
        for entity_id, info in list(self.vehicles.items()):
            configs = vehicle_configs(
                entity_id,
                name=info.name,
                model=info.model,
                language=info.language,
                bridge_status=self.status_topic,
            )
            sent = self._configs_sent.setdefault(entity_id, {})
            for topic, config in configs.items():
                body = json.dumps(config, ensure_ascii=False)
                if sent.get(topic) != body:
                    sent[topic] = body
                    self.client.publish(topic, body, qos=1, retain=True)
            for topic in retired_topics(entity_id):
                if topic not in sent:
                    sent[topic] = ""
                    self.client.publish(topic, b"", qos=1, retain=True)  # empty retained: removed

    def locked(self) -> threading.Lock:
        """The lock around the engine (for reloading scenes from another thread)."""
        return self._lock
