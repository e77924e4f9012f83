"""A PostgreSQL primary and its streaming replica, two clusters of the machine's PostgreSQL on free ports.

``pg_createcluster`` makes both (Debian's postgresql-common, as root: it writes /etc/postgresql and
runs the server as ``postgres``); the replica's data directory is a ``pg_basebackup -R`` of the
primary, so it starts as a hot standby streaming the primary's WAL. Both clusters are dropped
afterwards. The pair is the test's own: the machine's main cluster and its settings are not touched.
Outside CI the tests skip, with the reason, where this cannot run (not root, no postgresql-common).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from ..bus.nodes import free_port

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HBA = """local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""

CONF = """
listen_addresses = '127.0.0.1'
fsync = off
max_wal_senders = 4
"""


@dataclass(frozen=True)
class Pair:
    """The primary's and the replica's URLs of database ``carloop`` (``postgresql://``)."""

    primary: str
    replica: str

    def replica_lsn_caught_up(self) -> bool:
        """Whether the replica has replayed everything the primary had written when asked."""
        with _engine(self.primary).connect() as conn:
            written = conn.scalar(text("SELECT pg_current_wal_lsn()"))
        with _engine(self.replica).connect() as conn:
            return bool(conn.scalar(text("SELECT pg_last_wal_replay_lsn() >= :w"), {"w": written}))


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)


def _version() -> str | None:
    root = Path("/usr/lib/postgresql")
    versions = (
        sorted((p.name for p in root.iterdir() if (p / "bin" / "pg_ctl").exists()), key=int)
        if root.exists()
        else []
    )
    return versions[-1] if versions else None


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({done.returncode}): {done.stdout[-1500:]}{done.stderr[-1500:]}"
        )


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "pg_createcluster and the clusters' files need root"
    if shutil.which("pg_createcluster") is None or shutil.which("pg_basebackup") is None:
        return "Debian's postgresql-common (pg_createcluster) and pg_basebackup are not installed"
    if _version() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql"
    return None


@pytest.fixture(scope="module")
def replica_pair() -> Iterator[Pair]:
    """A primary and its streaming replica; CI must be able to make them, elsewhere they may skip."""
    reason = _unavailable()
    if reason is not None:
        if ON_CI:
            pytest.fail(f"the replica test must run on CI: {reason}")
        pytest.skip(reason)
    version = _version()
    assert version is not None
    tag = uuid.uuid4().hex[:8]
    names = {"primary": f"carloop_p{tag}", "replica": f"carloop_r{tag}"}
    ports = {"primary": free_port(), "replica": free_port()}
    made: list[str] = []
    try:
        for role in ("primary", "replica"):
            _run("pg_createcluster", version, names[role], "--port", str(ports[role]))
            made.append(names[role])
            etc = Path(f"/etc/postgresql/{version}/{names[role]}")
            (etc / "pg_hba.conf").write_text(HBA)
            with (etc / "postgresql.conf").open("a") as conf:
                conf.write(CONF)
        _run("pg_ctlcluster", "--skip-systemctl-redirect", version, names["primary"], "start")
        data = Path(f"/var/lib/postgresql/{version}/{names['replica']}")
        for entry in data.iterdir():  # the directory stays (postgres's, mode 0700); its contents go
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        _run(
            "runuser", "-u", "postgres", "--", "pg_basebackup",
            "-h", "127.0.0.1", "-p", str(ports["primary"]), "-U", "postgres",
            "-D", str(data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        _run("pg_ctlcluster", "--skip-systemctl-redirect", version, names["replica"], "start")
        base = "postgresql://postgres@127.0.0.1:{}/{}"
        admin = _engine(base.format(ports["primary"], "postgres")).execution_options(
            isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE carloop"))
        pair = Pair(base.format(ports["primary"], "carloop"), base.format(ports["replica"], "carloop"))
        deadline = time.monotonic() + 120  # a safety net, not a measurement
        while True:
            try:
                if pair.replica_lsn_caught_up():
                    break
            except Exception:  # the standby may still be starting, or the database not yet replayed
                if time.monotonic() > deadline:
                    raise
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.2)
        yield pair
    finally:
        for name in reversed(made):
            subprocess.run(
                ["pg_dropcluster", "--stop", version, name],
                capture_output=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
