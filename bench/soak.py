"""Soak: signed MLflow deliveries into `mlops-hooks serve`, which is SIGKILLed halfway.

N deliveries (default 10,000) over 32 keep-alive connections: about 20 % re-sends of an
earlier delivery (half byte for byte, as urllib3 retries; half a new delivery id and
signature, as a second webhook would), 5 % forged, 1 % stale. When half are answered, `serve`
is SIGKILLed and started again on the same port and ledger. The sender retries what got no
2xx the way MLflow's webhook session does (urllib3 Retry on 429/5xx and connection errors,
backoff 1 s x 2^n from the second retry, up to 1 s of jitter), but never gives up, and counts
the deliveries MLflow's default 3 retries would have dropped.

Checks: 0 lost (every valid delivery's version recorded), 0 duplicated records, 0 forged or
stale recorded, 0 5xx, handler re-runs only for events that were running at the kill.
Figures: accepted deliveries/s through the restart (and before / after), p50/p99 latency before
and after the kill, the restart time (kill -> /healthz), and the backlog's drain time (last
answer -> every event done). The baseline is the same run's first half, before the kill.

Targets (issue 14): all zeros, >= 2,000 accepted deliveries/s through the restart on 2 cores,
restart <= 2 s, drained within 60 s.

    python bench/soak.py [--deliveries 10000] [--connections 32] [--seed 14]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from mlops_hooks.shared.domain.signatures import sign_mlflow  # noqa: E402
from tests.support.processes import Proc, free_port, start_serve_process  # noqa: E402

SECRET = "soak-secret"
MODEL = "soak-model"
MLFLOW_DEFAULT_RETRIES = 3  # MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES
LEASE_SECONDS = 5  # how soon a run the kill interrupted is claimed again


@dataclass
class Delivery:
    kind: str  # new | resend-same | resend-new | forged | stale
    version: str
    original: Delivery | None = None  # what a re-send repeats
    request: bytes = b""  # signed once (a re-send byte for byte shares its original's)
    answer: int | None = None
    attempts: int = 0

    @property
    def valid(self) -> bool:
        return self.kind not in ("forged", "stale")

    def signed(self, host: str) -> bytes:
        if self.kind == "resend-same":
            return self.original.signed(host)  # type: ignore[union-attr]
        if not self.request:
            body = json.dumps(
                {
                    "entity": "model_version",
                    "action": "created",
                    "timestamp": "2026-12-02T10:00:00+00:00",
                    "data": {
                        "name": MODEL,
                        "version": self.version,
                        "source": f"models:/m-{self.version}",
                        "run_id": uuid.uuid4().hex,
                        "tags": {},
                        "description": None,
                    },
                }
            ).encode()
            delivery = str(uuid.uuid4())
            stamp = int(time.time()) - (3600 if self.kind == "stale" else 0)
            secret = "not-the-secret" if self.kind == "forged" else SECRET
            signature = sign_mlflow(secret, delivery, str(stamp), body)
            self.request = (
                f"POST /webhooks/mlflow HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"X-MLflow-Delivery-Id: {delivery}\r\nX-MLflow-Timestamp: {stamp}\r\n"
                f"X-MLflow-Signature: {signature}\r\n\r\n"
            ).encode() + body
        return self.request


def plan(count: int, seed: int) -> list[Delivery]:
    rng = random.Random(seed)
    deliveries: list[Delivery] = []
    valid: list[Delivery] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.05:
            deliveries.append(Delivery("forged", f"9{n:08d}"))
        elif roll < 0.06:
            deliveries.append(Delivery("stale", f"8{n:08d}"))
        elif roll < 0.26 and valid:
            original = rng.choice(valid)
            kind = "resend-same" if rng.random() < 0.5 else "resend-new"
            deliveries.append(Delivery(kind, original.version, original))
        else:
            new = Delivery("new", str(n + 1))
            deliveries.append(new)
            valid.append(new)
    return deliveries


@dataclass
class Tally:
    answered: int = 0
    fivexx: int = 0
    unexpected: list[str] = field(default_factory=list)
    # (send time, seconds, status) of every attempt that got an HTTP answer
    attempts: list[tuple[float, float, int]] = field(default_factory=list)
    half: asyncio.Event = field(default_factory=asyncio.Event)


def backoff(retry: int, rng: random.Random) -> float:
    """urllib3 2's Retry(backoff_factor=1, backoff_max=60, backoff_jitter=1) before retry n."""
    base = 0.0 if retry <= 1 else min(60.0, 1.0 * 2 ** (retry - 1))
    return base + rng.random()


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: a request out, its response back.

    Hand-written (not httpx or asyncio streams) because the sender shares the 2 cores with the
    server it measures: this costs a fraction of the CPU per request, so the figures are
    the server's, not the client's.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("connection lost"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None or self.waiter.done():
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        length = (
            int(head[at + 15 : head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None])
            if at >= 0
            else 0
        )
        if len(self.buffer) >= end + 4 + length:
            status = int(self.buffer[9:12])
            del self.buffer[: end + 4 + length]
            self.waiter.set_result(status)

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(port: int) -> Connection:
    _, conn = await asyncio.get_running_loop().create_connection(Connection, "127.0.0.1", port)
    return conn


async def sender(
    queue: list[Delivery], port: int, tally: Tally, total: int, rng: random.Random
) -> None:
    host = f"127.0.0.1:{port}"
    conn: Connection | None = None
    while queue:
        delivery = queue.pop()
        retry = 0
        while True:
            sent = time.perf_counter()
            status = None
            try:
                if conn is None or conn.closed:
                    conn = await connect(port)
                async with asyncio.timeout(10):
                    status = await conn.exchange(delivery.signed(host))
            except (TimeoutError, OSError, ValueError):
                if conn is not None:
                    conn.close()
                conn = None
            delivery.attempts += 1
            if status is not None:
                tally.attempts.append((sent, time.perf_counter() - sent, status))
                tally.fivexx += status >= 500
            if status is not None and status < 500 and status != 429:
                break
            retry += 1
            await asyncio.sleep(backoff(retry, rng))
        delivery.answer = status
        expected = 202 if delivery.valid else 401
        if status != expected:
            tally.unexpected.append(f"{delivery.kind} v{delivery.version}: {status}")
        tally.answered += 1
        if tally.answered >= total // 2:
            tally.half.set()
    if conn is not None:
        conn.close()


async def healthy(port: int) -> None:
    """Poll /healthz every 10 ms until it answers 200."""
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    while True:
        try:
            conn = await connect(port)
            try:
                async with asyncio.timeout(2):
                    if await conn.exchange(request) == 200:
                        return
            finally:
                conn.close()
        except (TimeoutError, OSError, ValueError):
            pass
        await asyncio.sleep(0.01)


def runs_in(log: Path) -> dict[str, int]:
    """Runs started per event id, from the handler's log (what ran at the kill: the ledger)."""
    started: dict[str, int] = {}
    for line in log.read_text().splitlines() if log.exists() else []:
        what, event_id = line.split()
        if what == "start":
            started[event_id] = started.get(event_id, 0) + 1
    return started


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def soak(args: argparse.Namespace, tmp: Path) -> dict:
    deliveries = plan(args.deliveries, args.seed)
    port = free_port()
    for delivery in deliveries:  # signed up front: the run measures the server, not the signing
        delivery.signed(f"127.0.0.1:{port}")
    state = tmp / "state"
    runs_log = tmp / "runs.log"
    env = {
        "MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": SECRET,
        "MLOPS_HOOKS_STATE_DIR": str(state),
        "MLOPS_HOOKS_HANDLER_MODULES": "bench.soak_handlers:HANDLERS",
        "MLOPS_HOOKS_RECONCILE_CRON": "",
        "MLOPS_HOOKS_POLL_SECONDS": "0.2",
        "MLOPS_HOOKS_WORKERS": os.environ.get("SOAK_WORKERS", "2"),
        "MLOPS_HOOKS_LEASE_SECONDS": str(LEASE_SECONDS),
        "SOAK_RUNS_LOG": str(runs_log),
        "PYTHONPATH": str(ROOT),
    }
    proc: Proc = start_serve_process("serve-1", tmp, env, port)
    tally = Tally()
    queue = list(reversed(deliveries))  # pop() takes them in plan order
    rng = random.Random(args.seed)
    started = time.perf_counter()
    senders = [
        asyncio.create_task(sender(queue, port, tally, len(deliveries), rng))
        for _ in range(args.connections)
    ]
    try:
        await tally.half.wait()
        os.killpg(proc.popen.pid, signal.SIGKILL)
        killed = time.perf_counter()
        proc.popen.wait()
        running_at_kill = running_in(state)
        restart = asyncio.create_task(
            asyncio.to_thread(start_serve_process, "serve-2", tmp, env, port)
        )
        await healthy(port)
        back = time.perf_counter()
        await asyncio.gather(*senders)
        finished = time.perf_counter()
        proc = await restart
        drained_at = drain(state, {d.version for d in deliveries if d.valid}, args.drain_timeout)
        runs = runs_in(runs_log)
    finally:
        proc.stop()
    return {
        "deliveries": deliveries,
        "tally": tally,
        "times": {
            "started": started,
            "killed": killed,
            "back": back,
            "finished": finished,
            "drained": drained_at,
        },
        "running_at_kill": running_at_kill,
        "runs": runs,
        "ledger": ledger_rows(state),
    }


def drain(state: Path, versions: set[str], timeout: float) -> float | None:
    """When every valid version's event is done (None: not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(state / "ledger.db") as db:
            done = db.execute(
                "SELECT count(*) FROM events WHERE kind = 'model_registered' AND status = 'done'"
            ).fetchone()[0]
        if done >= len(versions):
            return time.perf_counter()
        time.sleep(0.05)
    return None


def running_in(state: Path) -> set[str]:
    """The events the ledger has as running (claimed, not finished): what a kill interrupts."""
    with sqlite3.connect(state / "ledger.db") as db:
        return {r[0] for r in db.execute("SELECT id FROM events WHERE status = 'running'")}


def ledger_rows(state: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(state / "ledger.db") as db:
        return db.execute("SELECT id, kind, coalesce(version, ''), status FROM events").fetchall()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--drain-timeout", type=float, default=120)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        import uvloop  # uvicorn's loop: the sender's share of the CPU stays small

        result = uvloop.run(soak(args, Path(folder)))
    deliveries: list[Delivery] = result["deliveries"]
    tally: Tally = result["tally"]
    at = result["times"]
    rows = result["ledger"]

    valid_versions = {d.version for d in deliveries if d.valid}
    refused_versions = {d.version for d in deliveries if not d.valid}
    recorded = [r for r in rows if r[1] == "model_registered"]
    recorded_versions = [r[2] for r in recorded]
    lost = len(valid_versions - set(recorded_versions))
    duplicated = len(recorded_versions) - len(set(recorded_versions))
    refused_recorded = len(refused_versions & set(recorded_versions))
    reruns = {i: n for i, n in result["runs"].items() if n > 1}
    bad_reruns = len(set(reruns) - result["running_at_kill"])
    never_run = len({r[0] for r in recorded} - set(result["runs"]))
    accepted = sum(1 for d in deliveries if d.valid and d.answer == 202)
    given_up = sum(1 for d in deliveries if d.attempts > MLFLOW_DEFAULT_RETRIES + 1)

    def window(start: float, end: float) -> dict:
        ok = [s for at, s, status in tally.attempts if start <= at < end and status < 300]
        return {
            "accepted": len(ok),
            "per_second": len(ok) / (end - start) if end > start else 0.0,
            "p50_ms": percentile(ok, 0.50) * 1000,
            "p99_ms": percentile(ok, 0.99) * 1000,
        }

    before = window(at["started"], at["killed"])
    after = window(at["back"], at["finished"])
    through = accepted / (at["finished"] - at["started"])
    restart_s = at["back"] - at["killed"]
    drain_s = (at["drained"] - at["finished"]) if at["drained"] else float("inf")
    kinds = {k: sum(1 for d in deliveries if d.kind == k) for k in
             ("new", "resend-same", "resend-new", "forged", "stale")}  # fmt: skip

    print(f"soak: {len(deliveries):,} deliveries over {args.connections} connections {kinds}")
    print(f"  distinct versions {len(valid_versions):,}; recorded {len(recorded):,}")
    print(f"  before the kill (baseline): {before['per_second']:,.0f} accepted/s, "
          f"p50 {before['p50_ms']:.1f} ms, p99 {before['p99_ms']:.1f} ms")  # fmt: skip
    print(f"  after the restart:          {after['per_second']:,.0f} accepted/s, "
          f"p50 {after['p50_ms']:.1f} ms, p99 {after['p99_ms']:.1f} ms")  # fmt: skip
    print(f"  through the restart: {through:,.0f} accepted deliveries/s; restart {restart_s:.2f} s;"
          f" drained {drain_s:.2f} s after the last answer")  # fmt: skip
    print(f"  running at the kill: {len(result['running_at_kill'])}; re-run: {len(reruns)}; "
          f"MLflow's 3 retries would have dropped {given_up}")  # fmt: skip
    if tally.unexpected:
        print("  unexpected answers:", "; ".join(tally.unexpected[:5]))

    zero = [
        ("lost", lost),
        ("duplicated records", duplicated),
        ("forged or stale recorded", refused_recorded),
        ("5xx answers", tally.fivexx),
        ("unexpected answers", len(tally.unexpected)),
        ("re-runs of events not running at the kill", bad_reruns),
        ("recorded events never run", never_run),
    ]
    targets = [Target(name, value, "count", "<=", 0) for name, value in zero] + [
        Target("accepted deliveries/s through the restart", through, "per s", ">=", 2000),
        Target("restart (kill -> /healthz 200)", restart_s, "s", "<=", 2),
        Target("backlog drained after the last answer", drain_s, "s", "<=", 60),
    ]
    write(
        "soak",
        targets,
        deliveries=len(deliveries),
        connections=args.connections,
        kinds=kinds,
        distinct_versions=len(valid_versions),
        before_kill=before,
        after_restart=after,
        through_restart_per_second=through,
        restart_seconds=restart_s,
        drain_seconds=drain_s,
        running_at_kill=len(result["running_at_kill"]),
        reruns=len(reruns),
        mlflow_would_drop=given_up,
        lease_seconds=LEASE_SECONDS,
        unexpected=tally.unexpected[:20],
    )
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    raise SystemExit(main())
