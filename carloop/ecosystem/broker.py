"""An embedded MQTT broker for the demo (Mosquitto when installed, else amqtt), and the broker's
password and ACL files that carloop writes for it and for a production Mosquitto.

With an ``auth_dir`` the broker refuses anonymous clients and checks every login and topic against
``passwords`` and ``acl`` in that directory (``credentials.py`` says who may do what); ``reload()``
makes it read them again after ``write_auth_files`` changed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from carloop.ecosystem.credentials import Account, acl_file, password_file

PASSWORD_FILE, ACL_FILE = "passwords", "acl"

log = logging.getLogger("carloop.ecosystem")


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _replace(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically unless it already holds it; whether it changed."""
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return False
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.chmod(0o640)  # the broker's group reads it; secrets are hashes, still not for everyone
    temporary.replace(path)
    return True


def write_auth_files(directory: Path, accounts: list[Account]) -> bool:
    """Mosquitto's ``passwords`` and ``acl`` for ``accounts`` in ``directory``; whether either changed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = _replace(directory / PASSWORD_FILE, password_file(accounts))
    return _replace(directory / ACL_FILE, acl_file(accounts)) or changed


def mosquitto_config(
    port: int, auth_dir: Path | None, host: str = "127.0.0.1", *, run_as: str | None = None
) -> str:
    """A Mosquitto configuration: one listener, no persistence, and with ``auth_dir`` no anonymous
    clients and carloop's password and ACL files. ``run_as``: the user a broker started by root stays
    (the embedded broker is our child and reads our files)."""
    # set_tcp_nodelay: small messages go out at once instead of waiting on Nagle's algorithm
    lines = [f"listener {port} {host}", "persistence false", "set_tcp_nodelay true"]
    if run_as:
        lines.append(f"user {run_as}")
    if auth_dir is None:
        lines.append("allow_anonymous true")
    else:
        lines += [
            "allow_anonymous false",
            f"password_file {auth_dir / PASSWORD_FILE}",
            f"acl_file {auth_dir / ACL_FILE}",
        ]
    return "\n".join(lines) + "\n"


def amqtt_config(port: int, auth_dir: Path | None) -> dict[str, Any]:
    """The embedded amqtt broker's configuration, enforcing the same files as Mosquitto."""
    listeners = {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}
    if auth_dir is None:
        plugins: dict[str, Any] = {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
        }
    else:
        plugins = {
            "carloop.ecosystem.amqtt_acl.CarloopAclPlugin": {
                "password_file": str(auth_dir / PASSWORD_FILE),
                "acl_file": str(auth_dir / ACL_FILE),
            }
        }
    return {"listeners": listeners, "plugins": plugins}


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens on 127.0.0.1 there, else a free port the system picks.

    Two demos on one machine would otherwise share the first one's broker without a word.
    """
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = probe.getsockname()[1]
            return chosen
    raise OSError("no free TCP port on 127.0.0.1 for the embedded MQTT broker")


class EmbeddedBroker:
    """A broker on 127.0.0.1:``port`` for as long as the process runs; ``stop()`` ends it.

    ``kind`` chooses the broker ("mosquitto", "amqtt", or "" for Mosquitto when installed); with an
    ``auth_dir`` it enforces carloop's password and ACL files there (written before ``start``)."""

    def __init__(self, port: int, *, auth_dir: Path | None = None, kind: str = "") -> None:
        self.port = port
        self.auth_dir = auth_dir
        self.kind = kind
        self._process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The broker's URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start Mosquitto if it is installed, else amqtt in a thread; wait until it listens."""
        binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if self.auth_dir is not None and not (self.auth_dir / PASSWORD_FILE).exists():
            write_auth_files(self.auth_dir, [])  # nobody may connect until the files are written
        if self.kind != "amqtt" and binary:
            config = Path(tempfile.mkdtemp(prefix="carloop-mqtt-")) / "mosquitto.conf"
            config.write_text(
                mosquitto_config(self.port, self.auth_dir, run_as=pwd.getpwuid(os.geteuid()).pw_name)
            )
            self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
                [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            self.kind = "mosquitto"
        else:
            self._thread = threading.Thread(target=self._run_amqtt, name="carloop-amqtt", daemon=True)
            self._thread.start()
            self.kind = "amqtt"
        deadline = time.monotonic() + timeout
        while not self._listening():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded {self.kind} broker did not start on port {self.port}")
            time.sleep(0.1)
        log.info("embedded MQTT broker (%s) on %s", self.kind, self.url)

    def _listening(self) -> bool:
        if self.kind == "amqtt":  # a bare TCP probe leaves amqtt with a stream it never closes
            return self._ready.wait(0.1)
        return port_open("127.0.0.1", self.port)

    def _run_amqtt(self) -> None:
        from amqtt.broker import Broker  # type: ignore[import-untyped]

        config = amqtt_config(self.port, self.auth_dir)
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._broker = Broker(config, loop=self._loop)
        self._loop.run_until_complete(self._broker.start())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._close_leftovers()
            self._loop.close()

    def _close_leftovers(self) -> None:
        """Close the client streams amqtt leaves open at shutdown (else they warn when collected)."""
        assert self._loop is not None
        transports = getattr(self._loop, "_transports", {})  # the selector loop's fd -> transport
        for transport in list(transports.values()):
            if transport is not None and not transport.is_closing():
                transport.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        gc.collect()  # their StreamWriters go now, while the loop is still open

    def reload(self) -> None:
        """Make the broker read its password and ACL files again (amqtt notices changes by itself)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        """Stop the broker."""
        if self._process is not None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        if self._loop is not None and self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
