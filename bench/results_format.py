"""The shared results format every benchmark writes (bench/results/<name>.json):

    {"bench": name, "machine": {...}, "targets": [{"name", "value", "unit", "op", "target",
     "met"}], ...the benchmark's own figures}

``op`` says how ``value`` must compare with ``target`` (">=" or "<=").
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    unit: str
    op: str  # ">=" or "<="
    target: float
    met: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"op must be >= or <=, not {self.op!r}")
        ok = self.value >= self.target if self.op == ">=" else self.value <= self.target
        object.__setattr__(self, "met", bool(ok))


def machine() -> dict[str, Any]:
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 2**20, 1)  # kB -> GiB
    except OSError:
        pass
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
    }


def result_file(bench: str) -> Path:
    return ROOT / "bench" / "results" / f"{bench}.json"


def target_line(t: dict[str, Any]) -> str:
    """One target as the tables print it (a Target's fields, or a results file's entry)."""
    mark = "met" if t["met"] else "NOT met"
    name, value, unit, op, target = (t[k] for k in ("name", "value", "unit", "op", "target"))
    return f"{name:44} {value:12.4g} {unit:8} {op} {target:<10g} {mark}"


def write(bench: str, targets: list[Target], **figures: Any) -> Path:
    """Print the targets and write the results; returns the file written."""
    print(f"\n{bench}: targets")
    for t in targets:
        print(f"  {target_line(asdict(t))}")
    out = result_file(bench)
    out.parent.mkdir(exist_ok=True)
    doc = {"bench": bench, "machine": machine(), "targets": [asdict(t) for t in targets]}
    out.write_text(json.dumps({**doc, **figures}, indent=2, default=str))
    print(f"written to {out.relative_to(ROOT)}")
    return out


def all_met(targets: list[Target]) -> bool:
    return all(t.met for t in targets)
