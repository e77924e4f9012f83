"""A small, fast HTTP/1.1 keep-alive load generator for the launch benchmarks (asyncio + uvloop).

It runs in its own process: each of ``concurrency`` connections takes the next job, sends it, and
records status, latency and the order it got. A refused connection or a 503 is retried with the same
request (so the same ``Idempotency-Key``) until ``give_up`` seconds have passed, as a buyer's app would.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class Job:
    """One request to send: the path, the key, headers and body are already rendered."""

    key: str
    raw: bytes  # the whole HTTP/1.1 request
    kind: str  # "order" | "retry" | "invalid" | "edition" | "hello" | "notify"


@dataclass(slots=True)
class Results:
    """What the client saw, per job (same order as the jobs)."""

    status: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    answers: list[dict[str, Any] | None] = field(default_factory=list)
    acked_at: list[float] = field(default_factory=list)  # time.monotonic() of the first 2xx, or 0
    attempts: int = 0
    busy_503: int = 0
    connection_errors: int = 0
    elapsed_s: float = 0.0
    cpu_s: float = 0.0


def render(method: str, path: str, *, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request on a kept-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes, int]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    retry_after = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value)
        elif lname == b"retry-after":
            retry_after = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body, retry_after


async def drive(
    host: str, port: int, jobs: list[Job], concurrency: int, *, give_up: float = 120.0, progress: Any = None
) -> Results:
    """Send every job over ``concurrency`` kept-alive connections; returns what came back."""
    n = len(jobs)
    res = Results(status=[0] * n, latency_ms=[0.0] * n, answers=[None] * n, acked_at=[0.0] * n)
    cursor = iter(range(n))
    done = 0

    async def worker() -> None:
        nonlocal done
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for i in cursor:
            job = jobs[i]
            started = time.perf_counter()
            deadline = time.monotonic() + give_up
            while True:
                res.attempts += 1
                try:
                    if conn is None:
                        conn = await asyncio.open_connection(host, port)
                    status, body, retry_after = await _exchange(conn[0], conn[1], job.raw)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    res.connection_errors += 1
                    if conn is not None:
                        conn[1].close()
                    conn = None
                    if time.monotonic() > deadline:
                        status, body = 599, b""
                        break
                    await asyncio.sleep(0.1)
                    continue
                if status == 503 and time.monotonic() < deadline:
                    res.busy_503 += 1
                    await asyncio.sleep(min(retry_after or 1, 1) * 0.2)
                    continue
                break
            res.status[i] = status
            res.latency_ms[i] = (time.perf_counter() - started) * 1000
            if 200 <= status < 300:
                res.acked_at[i] = time.monotonic()
                if job.kind not in ("hello", "notify"):  # a notification is answered "success"
                    res.answers[i] = json.loads(body)
            done += 1
            if progress is not None and done % 256 == 0:
                progress.value = done
        if conn is not None:
            conn[1].close()

    began = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    res.elapsed_s = time.perf_counter() - began
    res.cpu_s = time.process_time() - cpu
    if progress is not None:
        progress.value = n
    return res


def run_process(
    host: str, port: int, jobs_file: str, concurrency: int, out_file: str, progress: Any, give_up: float
) -> None:
    """Entry point of the client process: read jobs, drive the server, write results."""
    import uvloop  # comes with uvicorn[standard]

    jobs = pickle.loads(Path(jobs_file).read_bytes())  # noqa: S301 - our own temporary file
    res = uvloop.run(drive(host, port, jobs, concurrency, give_up=give_up, progress=progress))
    Path(out_file).write_bytes(pickle.dumps(res))
