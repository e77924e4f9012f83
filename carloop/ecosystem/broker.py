"""An embedded MQTT broker for the demo: Mosquitto when installed, else amqtt (pure Python)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("carloop.ecosystem")


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


class EmbeddedBroker:
    """A broker on 127.0.0.1:``port`` for as long as the process runs; ``stop()`` ends it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.kind = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The broker's URL."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start Mosquitto if it is installed, else amqtt in a thread; wait until it listens."""
        binary = shutil.which("mosquitto")
        if binary:
            config = Path(tempfile.mkdtemp(prefix="carloop-mqtt-")) / "mosquitto.conf"
            # set_tcp_nodelay: small messages go out at once instead of waiting on Nagle's algorithm
            config.write_text(
                f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "set_tcp_nodelay true\n"
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
        while not port_open("127.0.0.1", self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded {self.kind} broker did not start on port {self.port}")
            time.sleep(0.1)
        log.info("embedded MQTT broker (%s) on %s", self.kind, self.url)

    def _run_amqtt(self) -> None:
        from amqtt.broker import Broker  # type: ignore[import-untyped]

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._broker = Broker(config, loop=self._loop)
        self._loop.run_until_complete(self._broker.start())
        self._loop.run_forever()

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
