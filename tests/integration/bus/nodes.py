"""Real ``carloop serve`` processes for the multi-node tests, and a load balancer in front of them.

A node is a process on its own port; ``kill`` sends SIGKILL (no shutdown, no lifespan stop: what a
crashed host does), ``start`` brings it back on the same port. ``Balancer`` sends each request to the
next node in turn and, when a node does not answer or answers 5xx, to the next one, as an HTTP load
balancer with health checks would; clients repeat a request with its Idempotency-Key.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """One ``carloop serve`` process on ``port``, its output in ``log``."""

    def __init__(self, name: str, url: str, env: Mapping[str, str], workdir: Path) -> None:
        self.name, self.url, self.env = name, url, dict(env)
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process and wait until ``/healthz`` answers."""
        self.launch()
        self.ready()

    def launch(self) -> None:
        """Start the process (``ready`` waits for it)."""
        self.starts += 1
        cmd = [sys.executable, "-m", "carloop.cli.main", "serve", "--port", str(self.port)]
        cmd += ["--database-url", self.url]
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                cmd, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT
            )

    def ready(self) -> None:
        """Wait until the launched process answers ``/healthz``."""
        assert self.proc is not None
        deadline = time.monotonic() + 90  # a safety net for a broken build, not a measurement
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process ends at once, mid-request, mid-batch, holding whatever it held."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """A graceful stop (SIGTERM), the end of the test."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Balancer:
    """Round robin over the nodes, failing over on a connection error or a 5xx answer."""

    def __init__(self, nodes: Sequence[Node], *, give_up_after: float = 120.0) -> None:
        self.nodes = list(nodes)
        self.give_up_after = give_up_after
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.failovers = 0

    def request(self, method: str, path: str, client: httpx.Client, **kwargs: Any) -> httpx.Response:
        """Send until a node answers below 500; the last answer or error after ``give_up_after`` s."""
        deadline = time.monotonic() + self.give_up_after
        with self._lock:
            first = next(self._turn)
        for attempt in itertools.count():
            node = self.nodes[(first + attempt) % len(self.nodes)]
            try:
                response = client.request(method, node.base + path, timeout=30, **kwargs)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                if response.status_code < 500 or time.monotonic() > deadline:
                    return response
            with self._lock:
                self.failovers += 1
            time.sleep(0.05)
        raise AssertionError("unreachable")
