"""The demo's peak memory: the resident memory of the demo and every process it started (the
MLflow and moto servers, `serve`, its Spark jobs' JVMs and Python workers), summed, sampled
twice a second while it plays. psutil reads the process tree; a sum of RSS counts pages two
processes share twice, so it errs high."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class PeakMemory:
    interval: float = 0.5
    peak_bytes: int = 0
    processes_at_peak: int = 0
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
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue  # ended between the listing and the reading
            if total > self.peak_bytes:
                self.peak_bytes, self.processes_at_peak = total, len(tree)
            self._stop.wait(self.interval)

    def summary(self) -> str:
        started = self.processes_at_peak - 1
        return (
            f"peak memory {self.peak_bytes / 2**30:.2f} GiB (the resident memory of the demo "
            f"and the {started} process{'' if started == 1 else 'es'} it had started then)"
        )
