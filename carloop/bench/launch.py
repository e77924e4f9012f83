"""``carloop bench launch`` and ``carloop bench crash``: a launch day against the real server.

The bench creates a fresh database (a temporary SQLite file, or a ``<name>_launch`` database next
to the PostgreSQL one given), seeds buyers with sessions, starts the served stack on granian
(``carloop.web.asgi:create_worker``) in its own processes with the chosen payment provider, drives it
over HTTP from another process in phases: the reservation surge (timed); then, untimed, it signs one
notification per answered reservation as the provider would (``launch_payments``); then the
notification surge (timed), which the server verifies with the provider's real algorithm. Then it
audits the database: nothing lost, nothing twice, no edition number oversold, no gap among paid
places, the ledger balanced.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from carloop.bench.db import bench_database, drop_bench_database
from carloop.bench.launch_audit import audit
from carloop.bench.launch_workload import build_jobs, seed_buyers
from carloop.web.asgi import granian_command

# --- server and client ------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The served stack on granian, as ``carloop serve`` runs it, in its own process group."""

    def __init__(self, url: str, port: int, workers: int, env: dict[str, str] | None = None) -> None:
        self.url, self.port, self.workers, self.env = url, port, workers, env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it answers."""
        env = {
            **os.environ,
            "CARLOOP_DATABASE_URL": self.url,
            "CARLOOP_ENVIRONMENT": "development",
            # The outbox dispatcher commits once per event; during the surge it would take the SQLite
            # write lock thousands of times a second. Events stay durable in the outbox and are
            # dispatched after the surge (``carloop orders dispatch-events``); see docs/BENCHMARKS.md.
            "CARLOOP_OUTBOX_INTERVAL": "0",
            # The similar-suggestion warm-up loads a sentence encoder at start-up (~1.6 s of CPU); with a
            # short hello phase it ran into the timed surge and was counted as the launch's server CPU.
            "CARLOOP_SIMILAR_WARMUP": "false",
            **self.env,
        }
        cmd = granian_command(host="127.0.0.1", port=self.port, workers=self.workers)  # as `carloop serve`
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True)  # noqa: S603 - our own interpreter
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /api/v1/intake/hello HTTP/1.1\r\nHost: x\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        time.sleep(0.5 if self.workers > 1 else 0.1)  # let every worker come up
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (master and workers), from /proc."""
        if self.proc is None:
            return 0.0
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:  # the process group granian was started in
                total += int(fields[11]) + int(fields[12])
        return total / ticks

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers), as a power cut would."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        """Graceful stop."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None


def drive(
    port: int,
    jobs: list[Any],
    concurrency: int,
    workdir: Path,
    *,
    label: str,
    show: bool,
    on_progress: Any = None,
    give_up: float = 120.0,
) -> Any:
    """Run the load generator in its own process; returns its Results."""
    import multiprocessing
    import pickle

    from carloop.bench.loadgen import run_process

    ctx = multiprocessing.get_context("spawn")
    jobs_file, out_file = workdir / f"{label}.jobs", workdir / f"{label}.out"
    jobs_file.write_bytes(pickle.dumps(jobs))
    progress = ctx.Value("q", 0)
    proc = ctx.Process(
        target=run_process,
        args=("127.0.0.1", port, str(jobs_file), concurrency, str(out_file), progress, give_up),
    )
    proc.start()
    bar = None
    if show:
        from rich.progress import Progress

        bar = Progress()
        bar.start()
        task = bar.add_task(label, total=len(jobs))
    while proc.is_alive():
        proc.join(0.1)
        if bar is not None:
            bar.update(task, completed=progress.value)
        if on_progress is not None:
            on_progress(progress.value)
    if bar is not None:
        bar.stop()
    if proc.exitcode != 0:
        raise RuntimeError(f"the load generator failed ({proc.exitcode})")
    return pickle.loads(out_file.read_bytes())  # noqa: S301 - written by our own child process


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def _summary(res: Any, kinds: list[str]) -> dict[str, Any]:
    lat = [ms for ms, k, s in zip(res.latency_ms, kinds, res.status, strict=True) if k != "hello" and s]
    ok = sum(1 for s in res.status if 200 <= s < 300)
    return {
        "requests": len(res.status),
        "ok": ok,
        "per_s": round(len(res.status) / res.elapsed_s, 1) if res.elapsed_s else 0.0,
        "p50_ms": _pct(lat, 0.50),
        "p95_ms": _pct(lat, 0.95),
        "p99_ms": _pct(lat, 0.99),
        "client_cpu_ms_per_request": round(res.cpu_s * 1000 / max(1, len(res.status)), 4),
    }


def _trades(res: Any) -> list[tuple[str, int]]:
    """(trade_no, deposit_fen) of every reservation answered 201, once per order (retries share it)."""
    seen: dict[str, int] = {}
    for answer in res.answers:
        if answer and answer.get("trade_no"):
            seen.setdefault(str(answer["trade_no"]), int(answer["deposit_fen"]))
    return list(seen.items())


def _phase(res: Any, kinds: list[str]) -> dict[str, Any]:
    summary = _summary(res, kinds)
    return {k: summary[k] for k in ("requests", "ok", "per_s", "p50_ms", "p95_ms", "p99_ms")}


def run_launch(
    *,
    orders: int,
    concurrency: int,
    database_url: str | None,
    workers: int,
    compare_orders: int,
    hello_requests: int,
    show: bool,
    provider: str = "simulator",
) -> dict[str, Any]:
    """The whole launch bench; returns the JSON report."""
    from carloop.bench.launch_payments import make_kit, notification_jobs, provider_side
    from carloop.bench.loadgen import Job, render

    with (
        tempfile.TemporaryDirectory(prefix="carloop-launch-") as tmp,
        provider_side(make_kit(provider)) as (kit, provider_calls),
    ):
        workdir = Path(tmp)
        url = bench_database(database_url, workdir, "launch")
        edition_units = max(1, min(5000, orders // 100))  # ~10% of requests ask for it: 10x oversubscribed
        buyers = seed_buyers(url, max(10, min(20_000, orders // 10)), edition_units)
        jobs, edition_requests = build_jobs(orders=orders, buyers=buyers, seed=7, prefix="L")
        port = free_port()
        all_jobs, all_results = [], []
        report: dict[str, Any] = {}
        if compare_orders:
            compare_jobs, _ = build_jobs(orders=compare_orders, buyers=buyers, seed=11, prefix="C")
            single = Server(
                url,
                port,
                workers,
                {**kit.env, "CARLOOP_LANE_MAX_BATCH": "1", "CARLOOP_LANE_MAX_WAIT_MS": "0"},
            )
            single.start()
            try:
                res = drive(port, compare_jobs, concurrency, workdir, label="per-request commit", show=show)
            finally:
                single.stop()
            all_jobs.append(compare_jobs)
            all_results.append(res)
            report["per_request_commit"] = _summary(res, [j.kind for j in compare_jobs])
        server = Server(url, port, workers, kit.env)
        server.start()
        try:
            hello = [
                Job(str(i), render("GET", "/api/v1/intake/hello", headers={}), "hello")
                for i in range(hello_requests)
            ]
            hello_res = drive(port, hello, concurrency, workdir, label="hello", show=show)
            cpu_before = server.cpu_seconds()
            res = drive(port, jobs, concurrency, workdir, label="reservation surge", show=show)
            server_cpu = server.cpu_seconds() - cpu_before
            # Untimed: the provider signs one notification per answered reservation.
            signing = time.perf_counter()
            answered = [t for r in [*all_results, res] for t in _trades(r)]  # the comparison's too
            notify_jobs = notification_jobs(kit, answered)
            signing_s = time.perf_counter() - signing
            cpu_before = server.cpu_seconds()
            notify_res = drive(port, notify_jobs, concurrency, workdir, label="notification surge", show=show)
            notify_cpu = server.cpu_seconds() - cpu_before
        finally:
            server.stop()
        all_jobs.append(jobs)
        all_results.append(res)
        summary = _summary(res, [j.kind for j in jobs])
        notify_summary = _phase(notify_res, [j.kind for j in notify_jobs])
        statuses: dict[str, int] = {}
        for s in res.status:
            statuses[str(s)] = statuses.get(str(s), 0) + 1
        notify_statuses: dict[str, int] = {}
        for s in notify_res.status:
            notify_statuses[str(s)] = notify_statuses.get(str(s), 0) + 1
        hello_per_s = round(hello_requests / hello_res.elapsed_s, 1)
        audit_report = audit(url, all_jobs, all_results, notified=(notify_jobs, notify_res))
        both = res.elapsed_s + notify_res.elapsed_s
        head = {
            "provider": kit.name,
            "reservations_per_s": summary["per_s"],
            "notifications_per_s": notify_summary["per_s"],
            "paid_orders_per_s": round(audit_report["paid_orders"] / both, 1) if both else 0.0,
            "orders_per_s": summary["per_s"],
            "reservation_p50_ms": summary["p50_ms"],
            "reservation_p99_ms": summary["p99_ms"],
            "notification_p50_ms": notify_summary["p50_ms"],
            "notification_p99_ms": notify_summary["p99_ms"],
            "p50_ms": summary["p50_ms"],
            "p95_ms": summary["p95_ms"],
            "p99_ms": summary["p99_ms"],
            "hello_per_s": hello_per_s,
            "orders_to_hello_ratio": round(summary["per_s"] / hello_per_s, 3) if hello_per_s else 0.0,
            "signing_s_untimed": round(signing_s, 2),
        }
        if "per_request_commit" in report:
            head["group_vs_per_request_commit_ratio"] = round(
                head["orders_per_s"] / max(0.1, report["per_request_commit"]["per_s"]), 2
            )
        drop_bench_database(url)
        return {
            **head,
            **audit_report,
            "requests": len(jobs),
            "statuses": statuses,
            "notification_statuses": notify_statuses,
            "notification_phase": notify_summary,
            "edition_units": edition_units,
            "edition_requests": edition_requests,
            "busy_503": res.busy_503 + notify_res.busy_503,
            "client_cpu_ms_per_request": summary["client_cpu_ms_per_request"],
            "server_cpu_ms_per_request": round(server_cpu * 1000 / max(1, len(jobs)), 4),
            "server_cpu_ms_per_notification": round(notify_cpu * 1000 / max(1, len(notify_jobs)), 4),
            "hello_client_cpu_ms_per_request": round(hello_res.cpu_s * 1000 / max(1, hello_requests), 4),
            "provider_stand_in_calls": dict(provider_calls),  # the server's calls to the gateway stand-in
            **report,
            "database": "postgresql" if url.startswith("postgresql") else "sqlite",
            "workers": workers,
            "concurrency": concurrency,
            "orders": orders,
        }


def run_crash(
    *,
    orders: int,
    concurrency: int,
    database_url: str | None,
    workers: int,
    kill_at: float,
    show: bool,
    provider: str = "simulator",
    kill_during: str = "reservations",
) -> dict[str, Any]:
    """The crash bench: SIGKILL mid-surge (reservations or notifications), restart, retries, audit."""
    from carloop.bench.launch_payments import make_kit, notification_jobs, provider_side

    if kill_during not in ("reservations", "notifications"):
        raise ValueError("--kill-during is reservations or notifications")
    with (
        tempfile.TemporaryDirectory(prefix="carloop-crash-") as tmp,
        provider_side(make_kit(provider)) as (kit, provider_calls),
    ):
        workdir = Path(tmp)
        url = bench_database(database_url, workdir, "crash")
        buyers = seed_buyers(url, max(10, min(5_000, orders // 10)), max(1, min(5000, orders // 100)))
        jobs, _ = build_jobs(orders=orders, buyers=buyers, seed=13, prefix="K")
        port = free_port()
        server = Server(url, port, workers, kit.env)
        server.start()
        killed: dict[str, float] = {}

        def killer(total: int) -> Any:
            def maybe_kill(done: int) -> None:
                if not killed and done >= kill_at * total:
                    killed["at"] = time.monotonic()
                    server.kill()
                    time.sleep(0.5)
                    server.start()
                    killed["restarted"] = time.monotonic()

            return maybe_kill

        try:
            res = drive(
                port,
                jobs,
                concurrency,
                workdir,
                label="reservations",
                show=show,
                on_progress=killer(len(jobs)) if kill_during == "reservations" else None,
            )
            notify_jobs = notification_jobs(kit, _trades(res))
            notify_res = drive(
                port,
                notify_jobs,
                concurrency,
                workdir,
                label="notifications",
                show=show,
                on_progress=killer(len(notify_jobs)) if kill_during == "notifications" else None,
            )
        finally:
            server.stop()
        at = killed.get("at") if kill_during == "reservations" else None
        report = audit(url, [jobs], [res], killed_at=at, notified=(notify_jobs, notify_res))
        drop_bench_database(url)
        return {
            "lost": report["lost"] + report["lost_notifications"],
            "duplicates": report["duplicates"],
            "ledger_balanced": report["ledger_balanced"],
            **report,
            "provider": kit.name,
            "provider_stand_in_calls": dict(provider_calls),
            "killed_during": kill_during,
            "killed": bool(killed),
            "downtime_s": round(killed.get("restarted", 0) - killed.get("at", 0), 2),
            "connection_errors": res.connection_errors + notify_res.connection_errors,
            "unanswered": sum(1 for s in [*res.status, *notify_res.status] if s == 599),
            "database": "postgresql" if url.startswith("postgresql") else "sqlite",
            "workers": workers,
            "orders": orders,
        }
