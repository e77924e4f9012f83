"""The scene bench's sharded bridges (``carloop bench scenes --bridges N``).

Each bridge process joins the membership in a database of its own for the run (a temporary SQLite
file), beats until the N bridges hold exactly their shares of the partitions, builds the engine for
the owners of its partitions only and subscribes to their cars' topics alone, as a server's bridge does
with ``CARLOOP_BRIDGE_SHARDED``. It keeps beating through the run (leases renewed every second) and
reports the cars it served with its counts."""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import timedelta
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from carloop.bench.scenes_fleet import Counted, fleet_engine
from carloop.ecosystem.bridge import Bridge
from carloop.ecosystem.membership import Shares
from carloop.ecosystem.models import BridgeMember, BridgePartition
from carloop.ecosystem.protocol import OFFLINE, ROOT, bridge_status_topic
from carloop.ecosystem.shares import partition_of

SETTLE_S = 120.0
BEAT_S = 1.0


def membership_db() -> str:
    """A fresh SQLite database holding only the membership tables; its URL."""
    path = Path(tempfile.mkdtemp(prefix="carloop-bench-bridges-")) / "members.db"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    BridgeMember.metadata.create_all(engine, tables=[BridgeMember.__table__, BridgePartition.__table__])  # type: ignore[list-item]
    engine.dispose()
    return url


def _settle(shares: Shares, bridges: int) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not (len(shares.members) == bridges and shares.settled()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{shares.member} did not settle on its share of {bridges} bridges")
        _, _, release = shares.beat()
        if release:
            shares.release(release)  # nothing loaded yet: nothing to hand over
        time.sleep(0.1)


def bridge_main(
    url: str,
    db_url: str,
    index: int,
    bridges: int,
    vehicles: int,
    base: int,
    ha: bool,
    ready: MpEvent,
    stop: MpEvent,
    out: Any,
) -> None:
    """One sharded bridge of the bench, in its own process."""
    from carloop.ecosystem.mqtt import PahoClient

    db = create_engine(db_url, connect_args={"timeout": 30})
    shares = Shares(sessionmaker(db), member=f"bench-bridge-{base}-{index}", lease=timedelta(seconds=10))
    _settle(shares, bridges)
    owned = [i for i in range(vehicles) if partition_of(base + i, shares.partitions) in shares.held]
    engine, infos = fleet_engine(vehicles, base, owned)
    status = bridge_status_topic(shares.member)
    client = PahoClient(url, client_id=f"carloop-bench-bridge-{base}-{index}", will=(status, OFFLINE))
    client.connect()
    bridge = Bridge(
        client,
        engine,
        vehicles=infos,
        ha_enabled=ha,
        sharded=True,
        status_topic=status,
        leased=shares.current,  # fenced as the server's bridges are: the gate is on every message's path
    )
    counted = Counted(bridge)
    bridge.sink = counted.sink
    bridge.start(tick_interval=0.25, freeze_gc=True)
    bridge.follow({f"vehicle.{base + i}" for i in owned})
    # The broker answers a connection's packets in order: this SUBACK means the cars' topics are in.
    client.subscribe_confirmed(f"{ROOT}/bench/{base}/{index}/sync", lambda topic, payload: None)
    moved = [0]

    def beat() -> None:
        while not stop.wait(BEAT_S):
            gained, lost, release = shares.beat()
            moved[0] += len(gained | lost | release)  # membership is fixed in the bench: stays 0
            bridge.replay()

    beating = threading.Thread(target=beat, name="carloop-bench-beat", daemon=True)
    beating.start()
    ready.set()
    stop.wait()
    beating.join(5)
    bridge.stop()
    client.disconnect()
    shares.leave()
    out.put({**counted.report(bridge), "member": shares.member, "cars": owned, "partitions_moved": moved[0]})
