"""The ecosystem inside the server: broker (embedded for the demo), the bridge on the database, the
simulated fleet in development, and scene/device changes picked up while running.

One bridge serves every car by default. With ``CARLOOP_BRIDGE_SHARDED`` each server's bridge is one of
several, serving the share of the cars its partitions hold (``membership.py``) and handing cars over
when a bridge joins or leaves (``handover.py``)."""

from __future__ import annotations

import logging
import secrets
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.orm import Session, sessionmaker

from carloop.clock import utcnow
from carloop.ecosystem import activity, credentials, drives, handover, preferences, service
from carloop.ecosystem import scenes as scene_service
from carloop.ecosystem.bridge import Bridge, VehicleInfo
from carloop.ecosystem.broker import EmbeddedBroker, free_port, write_auth_files
from carloop.ecosystem.engine import Engine, Trace
from carloop.ecosystem.membership import Shares
from carloop.ecosystem.models import Device, DeviceKind
from carloop.ecosystem.mqtt import MqttClient, PahoClient
from carloop.ecosystem.protocol import BRIDGE_STATUS, OFFLINE, bridge_status_topic
from carloop.ecosystem.schemas import SceneDefinition
from carloop.ecosystem.shares import partition_of
from carloop.ecosystem.simulator import PLACES, ROUTES, Fleet, SimCar, SimDevice
from carloop.settings import PLACEHOLDER_SECRET, Settings

log = logging.getLogger("carloop.ecosystem")
PURGE_EVERY_S = 3600.0  # how often recorded drives past their retention are deleted
DEMO_SPEED_KMH = 240.0  # fast-forward: Lujiazui to Century Park in about a minute and a half


ClientFactory = Callable[[str, tuple[str, str] | None], MqttClient]


def paho_factory(url: str, will: tuple[str, str] | None) -> MqttClient:
    """A connected-on-demand paho client."""
    return PahoClient(url, will=will)


def with_login(url: str, username: str, password: str) -> str:
    """``url`` with a login, unless it already carries one."""
    parts = urlsplit(url)
    if parts.username:
        return url
    return urlunsplit(parts._replace(netloc=f"{username}:{password}@{parts.netloc}"))


@dataclass
class BrokerAuth:
    """The runtime's own broker logins, and where it keeps the broker's password and ACL files."""

    key: str  # derives the bridge's and the simulator's secrets (and their hashes' salts)
    bridge_password: str
    directory: Path | None = None  # None: the broker's files are someone else's business
    simulator: bool = False  # the simulated fleet's account (never in production)

    @classmethod
    def from_settings(cls, settings: Settings, *, directory: Path | None, simulator: bool) -> BrokerAuth:
        """Logins from the settings; development without a secret key gets a fresh key per process."""
        key = settings.secret_key.get_secret_value()
        if key == PLACEHOLDER_SECRET:
            key = secrets.token_urlsafe(32)
        bridge = settings.mqtt_bridge_password.get_secret_value() or credentials.derived_secret(key, "bridge")
        return cls(key, bridge, directory, simulator and settings.environment != "production")

    @property
    def simulator_password(self) -> str:
        """The simulated fleet's password."""
        return credentials.derived_secret(self.key, "simulator")

    def service_accounts(self) -> list[credentials.Account]:
        """The bridge's account (and the simulator's in development)."""
        bridge = credentials.stable_hash(self.bridge_password, self.key, "bridge")
        accounts = [credentials.bridge_account(bridge)]
        if self.simulator:
            hashed = credentials.stable_hash(self.simulator_password, self.key, "simulator")
            accounts.append(credentials.simulator_account(hashed))
        return accounts


class Runtime:
    """One bridge on the database plus (optionally) a simulated fleet; start/stop with the server."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        url: str,
        *,
        simulate: bool,
        timezone: str = "Asia/Shanghai",
        client_factory: ClientFactory = paho_factory,
        reload_interval: float = 2.0,
        tick_interval: float | None = 0.25,
        freeze_gc: bool = False,
        auth: BrokerAuth | None = None,
        shares: Shares | None = None,
    ) -> None:
        self.factory, self.url, self.simulate, self.timezone = factory, url, simulate, timezone
        self.auth = auth
        self.shares = shares  # one of several bridges: serve only the partitions held here
        self.client_factory, self.reload_interval, self.tick_interval = (
            client_factory,
            reload_interval,
            tick_interval,
        )
        self.freeze_gc = freeze_gc  # the server's runtime: see Bridge.start
        self.bridge: Bridge | None = None
        self.fleet: Fleet | None = None
        self.broker: EmbeddedBroker | None = None
        self._signature: Any = None
        self._auth_signature: Any = None  # what the broker's account files were last written from
        self._loaded: dict[int, Any] = {}
        self._entity_ids: dict[str, int] = {}
        self._entity_owners: dict[str, int] = {}  # a sharded bridge's sink keeps only what it still holds
        self._scene_owners: dict[int, int] = {}
        self._recorded: dict[str, tuple[int, int]] = {}  # cars whose owner consented: (device, owner)
        self._purged_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect, build the engine from the database, start the bridge (and fleet)."""
        with self.factory() as session:
            if self.shares is None:
                engine = activity.build_engine(session=session, timezone=self.timezone)
            else:
                engine = Engine(timezone=self.timezone)  # filled with this bridge's share by reload
            self.write_auth(session)
        bridge_url = self.url
        if self.auth is not None:
            bridge_url = with_login(self.url, credentials.BRIDGE_USER, self.auth.bridge_password)
        # One of several bridges says "offline" (stopping, or as its last will) for its own cars only.
        status = BRIDGE_STATUS if self.shares is None else bridge_status_topic(self.shares.member)
        client = self.client_factory(bridge_url, (status, OFFLINE))
        client.connect()
        self.bridge = Bridge(
            client,
            engine,
            sink=self._sink,
            sharded=self.shares is not None,
            status_topic=status,
            leased=self.shares.current if self.shares is not None else None,
        )
        if self.simulate:
            self.fleet = Fleet(connect=self._connect_device)
        self.rebalance()
        self.reload()
        self.bridge.start(tick_interval=self.tick_interval, freeze_gc=self.freeze_gc)
        if self.fleet is not None:
            self.fleet.start()
        if self.reload_interval:
            self._thread = threading.Thread(target=self._poll, name="carloop-eco-reload", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop everything this runtime started."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.fleet is not None:
            self.fleet.stop()
        if self.bridge is not None and self.shares is not None:
            try:  # a last beat: the lease current again (or the cars another took forgotten) before saving
                self.rebalance()
            except Exception:
                log.exception("the last beat before stopping failed; unsaved state waits for the lease")
            self._hand_over(self.shares.held, save=True)  # everything saved before the partitions are freed
            self.shares.leave()
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge.client.disconnect()
        if self.broker is not None:
            self.broker.stop()

    def _connect_device(self, entity_id: str, will: tuple[str, str]) -> MqttClient:
        """A simulated device's own connection, with its ``offline`` as the last will (in the
        simulator's login: the simulated fleet knows no device's secret)."""
        url = self.url
        if self.auth is not None:
            url = with_login(self.url, credentials.SIMULATOR_USER, self.auth.simulator_password)
        client = self.client_factory(url, will)
        client.connect()
        return client

    def _poll(self) -> None:
        while not self._stop.wait(self.reload_interval):
            try:
                self.rebalance()
                self.reload()
                self.purge_drives()
            except Exception:  # keep the bridge running on the last good configuration
                log.exception("ecosystem reload failed")

    def rebalance(self) -> None:
        """A sharded bridge's beat: renew its leases, forget the partitions another bridge took while this
        one stalled, hand over the ones it must give up, let ``reload`` load the ones it gained, and
        handle the messages held back while its lease was not current."""
        if self.shares is None:
            return
        assert self.bridge is not None
        gained, lost, release = self.shares.beat()
        if lost:
            self._hand_over(lost, save=False)  # their new holder loaded them; ours is the older view
        if release:
            self._hand_over(release, save=True)
            self.shares.release(release)
        if gained or lost or release:
            self._signature = None  # the share changed: reload reads it again
        self.bridge.replay()

    def _hand_over(self, partitions: frozenset[int], *, save: bool) -> None:
        """Forget the owners of ``partitions`` and stop receiving their devices; then save what is
        unsaved (giving them up) or drop it (another bridge took them while this one stalled)."""
        assert self.bridge is not None and self.shares is not None
        bridge, count = self.bridge, self.shares.partitions
        with bridge.locked():
            owners = {o for o in handover.owners_of(bridge.engine) if partition_of(o, count) in partitions}
            entities, scenes = handover.forget_owners(bridge.engine, owners)
            for entity_id in entities:
                bridge.vehicles.pop(entity_id, None)
            for scene_id in scenes:
                self._loaded.pop(scene_id, None)
        bridge.unfollow(entities)
        if save:
            bridge.tick()  # their last states, waiting runs and traces into the database
        else:
            bridge.forget_unsaved(entities, scenes)

    def purge_drives(self, every_s: float = PURGE_EVERY_S) -> None:
        """Delete recorded drives past their owners' retention (at most once per ``every_s``)."""
        now = utcnow()
        if now.timestamp() - self._purged_at < every_s:
            return
        self._purged_at = now.timestamp()
        with self.factory.begin() as session:
            drives.purge_expired(session=session, now=now)

    def _sink(
        self, traces: list[Trace], pending: dict[str, dict[str, Any] | None], states: dict[str, Any]
    ) -> None:
        with self.factory.begin() as session:
            if self.shares is not None:  # only cars still held, their partitions locked until the commit
                pending, states = self._still_held(session, pending, states)
            activity.save_traces(session=session, traces=traces)
            activity.save_pending(session=session, changes=pending)
            ids = {self._entity_ids[e]: s for e, s in states.items() if e in self._entity_ids}
            service.store_states(session=session, states=ids)
            now = utcnow()
            samples = {
                self._recorded[e][0]: (self._recorded[e][1], now, s)
                for e, s in states.items()
                if e in self._recorded and "ts" in s
            }
            if samples:
                drives.record(session=session, samples=samples)

    def _still_held(
        self, session: Session, pending: dict[str, dict[str, Any] | None], states: dict[str, Any]
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, Any]]:
        """The waiting runs and states of owners whose partitions this bridge holds at this moment: a
        bridge that stalled between its fence and this write must not write over a new holder's."""
        assert self.shares is not None
        held, count = self.shares.holding(session), self.shares.partitions

        def ours(owner: int | None) -> bool:
            return owner is not None and partition_of(owner, count) in held

        kept_pending = {
            run: c
            for run, c in pending.items()
            if c is None or ours(self._scene_owners.get(int(c["scene_id"])))
        }
        kept_states = {e: s for e, s in states.items() if ours(self._entity_owners.get(e))}
        return kept_pending, kept_states

    def write_auth(self, session: Session, devices: Sequence[Device] | None = None) -> bool:
        """Bring the broker's password and ACL files up to date (and make the embedded broker read
        them again); whether they changed. Change-driven: the accounts are rebuilt and the files
        compared only when a device's or an owner's login changed since the last call (``devices``:
        the paired devices the caller has just read)."""
        if self.auth is None or self.auth.directory is None:
            return False
        devices = service.paired_devices(session=session) if devices is None else devices
        signature = service.accounts_signature(session=session, devices=devices)
        if signature == self._auth_signature:
            return False
        accounts = self.auth.service_accounts() + service.mqtt_accounts(session=session, devices=devices)
        changed = write_auth_files(self.auth.directory, accounts)
        self._auth_signature = signature
        if changed and self.broker is not None:
            self.broker.reload()
        return changed

    def reload(self) -> None:
        """Pick up homes, paired devices, credentials and scene changes made since the last call."""
        assert self.bridge is not None
        with self.factory() as session:
            homes = service.list_all_homes(session=session)
            devices = service.paired_devices(session=session)
            self.write_auth(session, devices)
            scenes = scene_service.enabled_scenes(session=session)
            if self.shares is not None:
                held, count = self.shares.held, self.shares.partitions
                homes = [h for h in homes if partition_of(h.customer_id, count) in held]
                devices = [d for d in devices if partition_of(d.customer_id, count) in held]
                scenes = [s for s in scenes if partition_of(s.customer_id, count) in held]
            owners = preferences.all_settings(session=session)
            self._recorded = drives.recorded_vehicles(session=session)
            signature = (
                tuple((o.customer_id, o.ha_language) for o in owners.values()),
                tuple((h.id, h.latitude, h.longitude, h.radius_m) for h in homes),
                tuple((d.id, d.share_precision) for d in devices),
                tuple((s.id, s.updated_at, s.location_revoked) for s in scenes),
            )
            if signature == self._signature:
                return
            self._signature = signature
            engine, bridge = self.bridge.engine, self.bridge
            by_owner: dict[int, list[Any]] = {}
            for home in homes:
                by_owner.setdefault(home.customer_id, []).append(home)
            with bridge.locked():
                for owner_id, owned in by_owner.items():
                    engine.set_zones(owner_id, service.zones_for(owned))
                current = {d.entity_id for d in devices}
                unpaired = set(engine.entity_owner) - current
                for entity_id in unpaired:
                    engine.entity_owner.pop(entity_id, None)  # unpaired: its messages are ignored now
                    bridge.vehicles.pop(entity_id, None)
                for device in devices:
                    engine.set_entity(device.entity_id, device.customer_id, device.state)
                    self._entity_ids[device.entity_id] = device.id
                    self._entity_owners[device.entity_id] = device.customer_id
                    if device.kind is DeviceKind.VEHICLE:
                        settings = owners.get(device.customer_id)
                        bridge.vehicles[device.entity_id] = VehicleInfo(
                            device.name,
                            str(device.state.get("model", "")),
                            device.share_precision,
                            settings.ha_language if settings is not None else "zh_CN",
                        )
                wanted = {s.id: (s.updated_at, s.location_revoked) for s in scenes}
                fresh = set(wanted) - set(self._loaded)
                for scene_id in list(self._loaded):
                    if scene_id not in wanted:
                        engine.unload(scene_id)
                        del self._loaded[scene_id]
                for scene in scenes:
                    self._scene_owners[scene.id] = scene.customer_id
                    if self._loaded.get(scene.id) != wanted[scene.id]:
                        definition = SceneDefinition.model_validate(scene.definition)
                        engine.load(
                            scene.id, scene.customer_id, definition, location=not scene.location_revoked
                        )
                        self._loaded[scene.id] = wanted[scene.id]
                if self.shares is not None and fresh:  # taken over: their waiting runs continue here
                    for continuation in activity.pending_runs(session=session):
                        if int(continuation["scene_id"]) in fresh:
                            engine.restore(continuation)
            if self.fleet is not None:
                self._simulate(devices, by_owner)
        bridge.unfollow(unpaired)
        bridge.follow(current)
        bridge.watch_mqtt_topics()
        bridge.publish_discovery()

    def _simulate(self, devices: list[Device], homes: dict[int, list[Any]]) -> None:
        assert self.fleet is not None
        for device in devices:
            entity_id = device.entity_id
            if entity_id in self.fleet.cars or entity_id in self.fleet.devices:
                continue
            if device.kind is DeviceKind.VEHICLE:
                owned = homes.get(device.customer_id)
                home = (owned[0].latitude, owned[0].longitude) if owned else PLACES["home"]
                lat, lon = device.state.get("latitude"), device.state.get("longitude")
                start = (
                    (float(lat), float(lon))
                    if isinstance(lat, int | float) and isinstance(lon, int | float)
                    else home
                )
                self.fleet.add_car(entity_id, SimCar(position=start))
            elif device.kind is not DeviceKind.PHONE:
                self.fleet.add_device(
                    entity_id, SimDevice(device.kind.value, str(device.state.get("state", "off")))
                )

    def drive_home(self, entity_id: str, home: tuple[float, float] | None = None) -> bool:
        """Demo: the simulated car drives from the office to the owner's home."""
        if self.fleet is None or entity_id not in self.fleet.cars:
            return False
        route = list(ROUTES["office-home"])
        if home is not None:
            route[-1] = home
        self.fleet.drive(entity_id, route, speed_kmh=DEMO_SPEED_KMH)
        return True

    def send(self, entity_id: str, command: str, args: dict[str, Any], *, source: str) -> None:
        """Send a device a command through the bridge."""
        assert self.bridge is not None
        self.bridge.send(entity_id, command, args, source=source)


def wanted(settings: Settings) -> bool:
    """Whether this server runs the ecosystem: when asked, or for the demo (development on the default
    embedded database); benchmark and test servers on their own databases stay quiet."""
    if settings.ecosystem != "auto":
        return settings.ecosystem == "on"
    default_db = Settings.model_fields["database_url"].default
    return settings.environment == "development" and settings.database_url == default_db


def start(settings: Settings, factory: sessionmaker[Session]) -> Runtime | None:
    """The server's ecosystem component: the runtime, started (``.stop()`` stops it); None when it is off."""
    eco = settings
    if not wanted(settings):
        return None
    dev = settings.environment == "development"
    simulate = eco.ecosystem_simulate if eco.ecosystem_simulate is not None else dev
    broker: EmbeddedBroker | None = None
    url = eco.mqtt_url
    configured = Path(settings.mqtt_auth_dir) if settings.mqtt_auth_dir else None
    auth = BrokerAuth.from_settings(settings, directory=configured, simulator=simulate)
    if not url:
        own = configured or Path(tempfile.mkdtemp(prefix="carloop-mqtt-auth-"))  # the embedded broker's
        auth.directory = own
        port = free_port(eco.mqtt_embedded_port)
        if port != eco.mqtt_embedded_port:
            log.warning(
                "port %d is taken (another carloop demo?); the embedded MQTT broker listens on %d instead",
                eco.mqtt_embedded_port,
                port,
            )
        broker = EmbeddedBroker(port, auth_dir=own)
        try:
            with factory() as session:  # the bridge's login must be in the files before it starts
                write_auth_files(own, auth.service_accounts() + service.mqtt_accounts(session=session))
            broker.start()
        except (OSError, RuntimeError):
            log.exception("the embedded MQTT broker did not start; carloop runs without the ecosystem")
            broker.stop()
            return None
        url = broker.url
    shares = None
    if settings.bridge_sharded and broker is None:  # several bridges need one broker they all use
        shares = Shares(
            factory,
            lease=timedelta(seconds=settings.bridge_lease_seconds),
            partitions=settings.bridge_partitions,
        )
    elif settings.bridge_sharded:
        log.warning("CARLOOP_BRIDGE_SHARDED needs CARLOOP_MQTT_URL; the embedded broker's bridge serves all")
    runtime = Runtime(
        factory,
        url,
        simulate=simulate,
        timezone=settings.timezone,
        reload_interval=eco.reload_interval,
        freeze_gc=True,
        auth=auth,
        shares=shares,
    )
    runtime.broker = broker
    try:
        runtime.start()
    except Exception:
        log.exception("the ecosystem did not start; the rest of carloop runs without it")
        runtime.stop()
        return None
    return runtime
