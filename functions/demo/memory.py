"""The demo's peak memory: the memory of the demo and every process it started (the MLflow and
moto servers, `serve`, the job host's JVM and Python workers), summed, sampled twice a second
while it plays. psutil reads the process tree. Each process counts its proportional set size
(PSS: a page shared by n processes counts 1/n in each), so the sum is what the tree holds: a
sum of RSS would count the pages Spark's forked Python workers share with their daemon, and
the libraries every process maps, again for each. Where PSS cannot be read (not Linux), RSS."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PeakMemory:
    interval: float = 0.5
    peak_bytes: int = 0
    processes_at_peak: int = 0
    largest_at_peak: list[tuple[str, int]] = field(default_factory=list)  # (what, bytes)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            try:
                tree = [me, *me.children(recursive=True)]
            except psutil.Error:  # a process ended while the tree was walked: next sample
                self._stop.wait(self.interval)
                continue
            held = []
            for process in tree:
                try:
                    held.append((_what(process, me), _proportional(process)))
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue  # ended between the listing and the reading
            total = sum(size for _, size in held)
            if total > self.peak_bytes:
                self.peak_bytes, self.processes_at_peak = total, len(tree)
                self.largest_at_peak = sorted(held, key=lambda h: -h[1])[:4]
            self._stop.wait(self.interval)

    def summary(self) -> str:
        started = self.processes_at_peak - 1
        return (
            f"peak memory {self.peak_bytes / 2**30:.2f} GiB (the proportional set size of the "
            f"demo and the {started} process{'' if started == 1 else 'es'} it had started then; "
            + ", ".join(f"{what} {size / 2**30:.2f}" for what, size in self.largest_at_peak)
            + ")"
        )


_KNOWN = (  # a piece of the command line -> what the process is, for the summary
    ("java", "Spark JVM"),
    ("pyspark.daemon", "Spark Python worker"),
    ("jobs.host", "job host"),
    (" serve", "serve"),
    ("mlflow", "MLflow server"),
    ("moto", "moto"),
)


def _what(process: Any, me: Any) -> str:
    if process.pid == me.pid:
        return "demo"
    try:
        command = " ".join(process.cmdline())
    except Exception:  # psutil.Error: gone or hidden; the name is enough
        command = ""
    return next((what for part, what in _KNOWN if part in command), process.name())


def _proportional(process: Any) -> int:
    """The process's PSS (Linux), else its RSS."""
    try:
        return int(process.memory_full_info().pss)
    except AttributeError:  # no pss on this platform
        return int(process.memory_info().rss)
