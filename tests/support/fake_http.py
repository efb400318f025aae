"""Fakes of third-party HTTP APIs (Databricks, Slack): the demo's recording server plus fault
injection: ``fail_next`` answers 429/5xx (with Retry-After) before the real handler runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_hooks.functions.demo.recording_http import Handler, RecordingHTTP, Request

__all__ = ["FakeHTTP", "Fault", "Handler", "Request"]


@dataclass
class Fault:
    method: str
    path: str
    status: int
    times: int
    retry_after: int | None


@dataclass
class FakeHTTP(RecordingHTTP):
    faults: list[Fault] = field(default_factory=list)

    def fail_next(
        self, method: str, path: str, status: int, times: int = 1, retry_after: int | None = None
    ) -> None:
        self.faults.append(Fault(method, path, status, times, retry_after))

    def _answer(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        for fault in self.faults:
            if fault.times > 0 and (fault.method, fault.path) == (req.method, req.path):
                fault.times -= 1
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                body = {
                    "error_code": "TEMPORARILY_UNAVAILABLE",
                    "message": f"injected {fault.status}",
                }
                return fault.status, body, headers
        return super()._answer(req)
