"""Ingress benchmark: signed POST /webhooks/mlflow (with its durable ledger write) against a
bare FastAPI endpoint returning {}, same uvicorn settings, 64 connections, one run; and the
cold import time of every functions/ module against `import fastapi, mangum`.

Targets (issue 19): throughput ratio >= 0.8 and edge p99 <= 15 ms on a quiet machine; with
``--neighbour``, the same rounds again with a CPU-bound neighbour process pinned to one of the
cores (beside the server, as a shared machine has one), interleaved with the quiet ones in the
same run: ratio >= 0.8 and edge p99 <= 30 ms; cold import <= 1.2x.
Needs `wrk` (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk).

    python bench/ingress.py [--seconds 8] [--connections 64] [--neighbour]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_format import Target, all_met, write  # noqa: E402
from mlops_hooks.shared.domain.signatures import sign_mlflow  # noqa: E402
from tests.support.processes import free_port, start  # noqa: E402

SECRET = "bench-secret"
# each round's figures whose median over the rounds is reported
ROUND_FIGURES = (
    "rps",
    "p50_us",
    "p99_us",
    "cpu_us_per_request",
    "cores_on_cpu",
    "cores_waiting",
    "scheduled_per_request",
)


def signed_requests(path: Path, count: int, first_version: int = 1) -> None:
    stamp = str(int(time.time()))
    with path.open("w") as fh:
        for n in range(count):
            body = json.dumps(
                {
                    "entity": "model_version",
                    "action": "created",
                    "timestamp": "2026-11-23T10:00:00+00:00",
                    "data": {
                        "name": "bench-model",
                        "version": str(first_version + n),
                        "source": f"models:/m-{n}",
                        "run_id": uuid.uuid4().hex,
                        "tags": {"team": "platform"},
                        "description": None,
                    },
                }
            )
            delivery = str(uuid.uuid4())
            sig = sign_mlflow(SECRET, delivery, stamp, body.encode())
            fh.write(f"{delivery}\t{stamp}\t{sig}\t{body}\n")


def family(pid: int) -> list[psutil.Process]:
    """The server and the processes it started (the edge's WAL sync helper): their CPU is the
    server's cost too."""
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system, every thread) the process and its children have used, else
    None (it has ended).

    Beside the neighbour the server gets about one core, so its throughput follows its CPU
    per request; printed beside req/s, it says what a webhook costs, whatever the machine's
    speed that minute (README, Benchmarks)."""
    try:
        return sum(t.user + t.system for t in (p.cpu_times() for p in family(pid)))
    except psutil.Error:
        return None


def scheduler_ns(pid: int) -> dict[str, tuple[int, int, int]] | None:
    """Per thread of the process and its children: nanoseconds on a CPU, nanoseconds waiting
    in a run queue for one, and how many times it was put on a CPU (Linux's
    /proc/<pid>/task/*/schedstat), else None. Read here because psutil gives a thread's user
    and system time but not its time waiting for a CPU.

    The CPU a request says what a webhook costs; this says whether the server got the CPU it
    wanted: beside the neighbour both servers are runnable all the time, and what one waits
    in the run queue is CPU its group did not get (README, Benchmarks)."""
    try:
        tasks = [
            f"/proc/{p.pid}/task/{tid}"
            for p in family(pid)
            for tid in os.listdir(f"/proc/{p.pid}/task")
        ]
    except (OSError, psutil.Error):
        return None
    out = {}
    for tid in tasks:
        try:
            with open(f"{tid}/schedstat") as fh:
                on_cpu, waiting, slices = fh.read().split()[:3]
        except (OSError, ValueError):
            continue  # a thread that ended meanwhile
        out[tid] = (int(on_cpu), int(waiting), int(slices))
    return out


def _grown(before: dict, after: dict, field: int) -> int:
    """How much one of scheduler_ns's figures grew, summed over the threads alive at the end
    (a thread started meanwhile counts from zero)."""
    return sum(a[field] - before.get(t, (0, 0, 0))[field] for t, a in after.items())


def cores(before: dict, after: dict, seconds: float) -> tuple[float, float]:
    """Cores on a CPU and cores waiting for one, over ``seconds``, for the threads alive at
    the end."""
    return _grown(before, after, 0) / 1e9 / seconds, _grown(before, after, 1) / 1e9 / seconds


def times_scheduled(before: dict, after: dict) -> int:
    """How many times the threads alive at the end were put on a CPU meanwhile.

    Per request it counts the hand-offs a webhook costs: bare FastAPI's one thread runs until
    the kernel takes its CPU away; ours also wakes the group commit's thread, which waits for
    the GIL while the event loop holds it (README, Benchmarks)."""
    return _grown(before, after, 2)


def load(
    url: str,
    requests_file: Path,
    seconds: int,
    connections: int,
    threads: int,
    server_pid: int | None = None,
) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(ROOT / "bench" / "ingress.lua"),
        url,
        "--",
        str(requests_file),
        "/webhooks/mlflow",
        str(threads),
    ]
    cpu_before = cpu_seconds(server_pid) if server_pid else None
    sched_before = scheduler_ns(server_pid) if server_pid else None
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(server_pid) if server_pid else None
    sched_after = scheduler_ns(server_pid) if server_pid else None
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        result["cpu_us_per_request"] = (cpu_after - cpu_before) / result["requests"] * 1e6
    if sched_before is not None and sched_after is not None:
        result["cores_on_cpu"], result["cores_waiting"] = cores(sched_before, sched_after, wall)
        if result["requests"]:
            scheduled = times_scheduled(sched_before, sched_after)
            result["scheduled_per_request"] = scheduled / result["requests"]
    return result


def serve(factory: str, tmp: Path, env: dict[str, str]):
    port = free_port()
    return start(
        factory.rsplit(":", 1)[1],
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        url=f"http://127.0.0.1:{port}",
        ready=lambda r: True,
        log_dir=tmp,
        env=env,
        cwd=ROOT,
    )


@contextlib.contextmanager
def neighbour(on: bool) -> Iterator[None]:
    """A CPU-bound process pinned to the first core while the block runs (a shared machine's
    neighbour: the server keeps one core and shares the other)."""
    if not on:
        yield
        return
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(busy.pid, {0})
        time.sleep(0.5)  # the scheduler settles
        yield
    finally:
        busy.kill()
        busy.wait()


def finish_checkpoint(db: Path, timeout: float = 60.0) -> float:
    """Copy what is left of the edge's write-ahead log into its database, from here, before
    the next round starts; the seconds it took.

    The edge's checkpointer copies its log every ledger_checkpoint_seconds; what its round
    left behind it would copy at its next tick, during bare FastAPI's round on the same CPUs.
    Copied here, between the rounds, neither side's round carries the other's work."""
    started = time.perf_counter()
    conn = sqlite3.connect(db, timeout=timeout)
    try:
        while time.perf_counter() - started < timeout:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy and copied == frames:
                break
            time.sleep(0.05)  # the edge's own checkpointer is copying: wait for it
    finally:
        conn.close()
    return time.perf_counter() - started


def _import_once(statement: str) -> float:
    code = (
        f"import time; t = time.perf_counter(); {statement}; "
        "print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return float(out)


BASELINE_IMPORT = "import fastapi, mangum"


def import_pair(module: str, repeat: int) -> tuple[float, float]:
    """Median import ms of the baseline and of the module, measured as interleaved pairs so
    that a busy moment on the machine lands on both sides."""
    base, mod = [], []
    for _ in range(repeat):
        base.append(_import_once(BASELINE_IMPORT))
        mod.append(_import_once(f"import {module}"))
    return statistics.median(base), statistics.median(mod)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=8, help="per round and side")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--expected-rps",
        type=int,
        default=15_000,
        help="sizes the pre-signed request files (1.5x headroom)",
    )
    parser.add_argument("--import-repeats", type=int, default=9)
    parser.add_argument(
        "--neighbour", action="store_true", help="also every round beside a CPU-bound process"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/ingress.py needs wrk: apt-get install wrk (or brew install wrk)")
        return 2

    results: dict = {"connections": args.connections, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        batches = iter(range(1_000_000))

        def fresh(count: int) -> Path:
            """Unique, freshly signed deliveries for one run: every request a new event."""
            path = tmp / f"requests-{next(batches)}.tsv"
            signed_requests(path, count, first_version=next(batches) * 1_000_000)
            return path

        per_run = int(args.expected_rps * args.seconds * 1.5)
        env = {"MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET": SECRET, "BENCH_STATE_DIR": str(tmp / "st")}
        servers = {
            "bare": serve("bench.ingress_apps:bare_app", tmp, env),
            "edge": serve("bench.ingress_apps:edge_app", tmp, env),
        }
        conditions = ["quiet", "neighbour"] if args.neighbour else ["quiet"]
        ledger_path = tmp / "st" / "ledger.db"
        leftover_copy: list[float] = []  # seconds, after each of the edge's rounds
        runs: dict[str, list[dict]] = {
            f"{side}{suffix}": [] for suffix in ("", "_neighbour") for side in ("bare", "edge")
        }
        try:
            for proc in servers.values():
                load(proc.url, fresh(per_run // 3), 2, args.connections, args.threads)
            # Interleaved rounds: a slow minute hits both sides, and both conditions, alike.
            for _ in range(args.rounds):
                for condition in conditions:
                    suffix = "" if condition == "quiet" else "_neighbour"
                    with neighbour(condition == "neighbour"):
                        for name, proc in servers.items():
                            runs[name + suffix].append(
                                load(
                                    proc.url,
                                    fresh(per_run),
                                    args.seconds,
                                    args.connections,
                                    args.threads,
                                    server_pid=proc.popen.pid,
                                )
                            )
                            if name == "edge":
                                leftover_copy.append(finish_checkpoint(ledger_path))
        finally:
            for proc in servers.values():
                proc.stop()
        for name, rounds in runs.items():
            if not rounds:
                continue
            results[name] = {
                key: statistics.median(r[key] for r in rounds)
                for key in ROUND_FIGURES
                if all(key in r for r in rounds)
            }
            results[name]["non_2xx"] = sum(r["non_2xx"] + r["socket_errors"] for r in rounds)
            results[name]["rounds"] = rounds
        results["edge"]["leftover_checkpoint_seconds"] = leftover_copy
        ledger = sqlite3.connect(ledger_path)
        results["edge"]["events_recorded"] = ledger.execute(
            "SELECT count(*) FROM events"
        ).fetchone()[0]
        ledger.close()
        results["edge"]["requests"] = sum(
            r["requests"] for name in ("edge", "edge_neighbour") for r in runs[name]
        )

    bare, edge = results["bare"], results["edge"]
    results["throughput_ratio"] = edge["rps"] / bare["rps"]
    if args.neighbour:
        results["throughput_ratio_neighbour"] = (
            results["edge_neighbour"]["rps"] / results["bare_neighbour"]["rps"]
        )
        # each round's pair, in order: how far the median's rounds spread
        pairs = zip(runs["edge_neighbour"], runs["bare_neighbour"], strict=True)
        results["round_ratios_neighbour"] = [e["rps"] / b["rps"] for e, b in pairs]

    modules = sorted(p.stem for p in (ROOT / "functions").glob("*.py") if p.stem != "__init__")
    results["import_ms"] = {}
    for module in modules:
        base, mod = import_pair(f"mlops_hooks.functions.{module}", args.import_repeats)
        results["import_ms"][f"mlops_hooks.functions.{module}"] = {
            "ms": mod,
            "baseline_ms": base,
            "ratio": mod / base,
        }
    worst_name, worst = max(results["import_ms"].items(), key=lambda kv: kv[1]["ratio"])
    results["import_ratio_worst"] = {"module": worst_name, "ratio": worst["ratio"]}

    print(
        f"ingress, {args.connections} connections, median of {args.rounds} interleaved "
        f"{args.seconds} s rounds, same uvicorn settings (1 worker, uvloop, httptools)"
    )
    print(f"{'':28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'CPU us/req':>12}")
    rows = [("bare", "bare FastAPI {}"), ("edge", "signed webhook + ledger")]
    if args.neighbour:
        rows += [(f"{n}_neighbour", f"{label}, neighbour") for n, label in rows]
    for name, label in rows:
        r = results[name]
        cpu = r.get("cpu_us_per_request")
        print(
            f"{label:28}{r['rps']:>10.0f}{r['p50_us'] / 1000:>9.2f}"
            f"{r['p99_us'] / 1000:>9.2f}{r['non_2xx']:>9}"
            + (f"{cpu:>12.1f}" if cpu is not None else f"{'-':>12}")
        )
    print(f"throughput ratio edge/bare: {results['throughput_ratio']:.2f}  (target >= 0.8)")
    if args.neighbour:
        print(
            f"with the neighbour: ratio {results['throughput_ratio_neighbour']:.2f} (target "
            f">= 0.8), edge p99 {results['edge_neighbour']['p99_us'] / 1000:.2f} ms "
            "(target <= 30 ms); its rounds in order: "
            + ", ".join(f"{x:.2f}" for x in results["round_ratios_neighbour"])
        )
        costs = [results[n].get("cpu_us_per_request") for n in ("bare_neighbour", "edge_neighbour")]
        if None not in costs:
            print(
                f"  server CPU a request beside the neighbour: bare {costs[0]:.1f} us, "
                f"edge {costs[1]:.1f} us (bare / edge {costs[0] / costs[1]:.2f})"
            )
        bare_n, edge_n = results["bare_neighbour"], results["edge_neighbour"]
        if "cores_on_cpu" in bare_n and "cores_on_cpu" in edge_n:  # set with cores_waiting
            print(
                "  server threads beside the neighbour, cores on a CPU + waiting for one: "
                f"bare {bare_n['cores_on_cpu']:.2f} + {bare_n['cores_waiting']:.2f}, "
                f"edge {edge_n['cores_on_cpu']:.2f} + {edge_n['cores_waiting']:.2f}"
            )
    conditions_run = [("", "quiet")]
    if args.neighbour:
        conditions_run.append(("_neighbour", "beside the neighbour"))
    handoffs = [
        f"{label}: bare {results['bare' + suffix]['scheduled_per_request']:.2f}, "
        f"edge {results['edge' + suffix]['scheduled_per_request']:.2f}"
        for suffix, label in conditions_run
        if "scheduled_per_request" in results["edge" + suffix]
        and "scheduled_per_request" in results["bare" + suffix]
    ]
    if handoffs:
        print("  times the server's threads were put on a CPU, a request: " + "; ".join(handoffs))
    print(
        "  the edge's log left after each of its rounds, copied before the next round: "
        f"median {statistics.median(edge['leftover_checkpoint_seconds']):.2f} s"
    )
    print(
        f"edge p99: {edge['p99_us'] / 1000:.2f} ms  (target <= 15 ms); "
        f"{edge['requests']} requests -> {edge['events_recorded']} events recorded "
        "(incl. warm-up)"
    )
    print(f"cold import, median of {args.import_repeats} interleaved pairs (ms):")
    print(f"  {'module':32}{'ms':>8}{'fastapi+mangum':>16}{'ratio':>8}")
    for name, m in results["import_ms"].items():
        print(f"  {name:32}{m['ms']:8.1f}{m['baseline_ms']:16.1f}{m['ratio']:7.2f}x")
    print(f"worst: {worst_name} at {worst['ratio']:.2f}x fastapi+mangum  (target <= 1.2x)")
    targets = [
        Target("throughput edge / bare FastAPI", results["throughput_ratio"], "x", ">=", 0.8),
        Target("edge p99", edge["p99_us"] / 1000, "ms", "<=", 15),
        Target(f"cold import, worst ({worst_name})", worst["ratio"], "x", "<=", 1.2),
    ]
    if args.neighbour:
        targets += [
            Target(
                "throughput edge / bare, neighbour",
                results["throughput_ratio_neighbour"],
                "x",
                ">=",
                0.8,
            ),
            Target(
                "edge p99, neighbour", results["edge_neighbour"]["p99_us"] / 1000, "ms", "<=", 30
            ),
        ]
    write("ingress", targets, **results)
    return 0 if all_met(targets) else 2


if __name__ == "__main__":
    sys.exit(main())
