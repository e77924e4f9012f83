"""Set-up that talks: the demo's reset deletes only an SQLite file; the embedded broker finds a free port."""

from __future__ import annotations

import socket
from pathlib import Path

from carloop.cli.demo import remove_sqlite_database
from carloop.ecosystem.broker import free_port


def test_reset_removes_the_sqlite_file_and_its_wal_files_only(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    for name in ("demo.db", "demo.db-wal", "demo.db-shm", "other.db"):
        (tmp_path / name).write_bytes(b"x")
    assert remove_sqlite_database(f"sqlite:///{db}") == str(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
    assert remove_sqlite_database(f"sqlite:///{db}") == str(db)  # nothing there: still fine
    assert remove_sqlite_database("postgresql://postgres@127.0.0.1:5432/carloop") is None
    assert remove_sqlite_database("sqlite:///:memory:") is None


def test_a_taken_broker_port_gives_way_to_a_free_one() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        other = free_port(busy)
        assert other != busy and other > 0
    assert free_port(other) == other  # a free preferred port is kept
