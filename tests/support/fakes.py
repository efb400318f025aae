"""In-memory fakes of our ports, for tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from mlops_hooks.shared.adapters.markdown import replace_section
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.sweep import ChangeScan, RegistryChange
from mlops_hooks.shared.ports.notifier import Answer, ApprovalRequest, Notification, Posted
from mlops_hooks.shared.ports.registry import Evaluation, InputColumn, Lineage, ModelVersion


class Wakes:
    """A Queue that remembers which event ids it was asked to wake."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def notify(self, event_id: str) -> None:
        self.ids.append(event_id)


# --- registry, model, tables, notifier --------------------------------------------------------


def schema_of(frame: pd.DataFrame) -> list[InputColumn]:
    names = {"i": "long", "u": "long", "f": "double", "b": "boolean"}
    return [InputColumn(str(c), names.get(frame[c].dtype.kind, "string")) for c in frame.columns]


@dataclass
class FakeModel:
    """A LoadedModel over any estimator-like object (predict, optional predict_proba)."""

    estimator: Any
    schema: list[InputColumn] | None = None
    example: pd.DataFrame | None = None
    size_bytes: int = 50_000
    flavors: list[str] = field(default_factory=lambda: ["sklearn"])
    load_seconds: float = 0.01
    closed: bool = False

    def input_schema(self) -> list[InputColumn] | None:
        return self.schema

    def input_example(self) -> pd.DataFrame | None:
        return self.example

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(frame))

    def positive_scores(self, frame: pd.DataFrame, positive: Any) -> np.ndarray | None:
        if not hasattr(self.estimator, "predict_proba"):
            return None
        classes = [str(c) for c in self.estimator.classes_]
        return np.asarray(self.estimator.predict_proba(frame))[:, classes.index(str(positive))]

    evaluates = False

    def evaluate(self, frame, label, model_type, positive) -> Evaluation | None:
        return None  # no MLflow here: the suite's own metrics judge

    def close(self) -> None:
        self.closed = True


class Constant:
    """The bad model: one answer (and one probability) for everyone."""

    classes_ = ("No", "Yes")

    def __init__(self, answer: Any, p_yes: float = 0.26) -> None:
        self.answer, self.p_yes = answer, p_yes

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.answer, dtype=object)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.tile([1 - self.p_yes, self.p_yes], (len(frame), 1))


@dataclass
class MemoryRegistry:
    """A Registry in a dict: versions, descriptions (with managed sections), tags, aliases."""

    models: dict[tuple[str, str], Any] = field(default_factory=dict)  # -> FakeModel or error
    versions: dict[tuple[str, str], ModelVersion] = field(default_factory=dict)
    aliases: dict[tuple[str, str], str] = field(default_factory=dict)
    runs: dict[str, Lineage] = field(default_factory=dict)
    promotions: list[tuple[str, str, str]] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    loads: int = 0
    loaded_known: list[ModelVersion | None] = field(default_factory=list)  # load_model's known
    run_urls_asked: list[str] = field(default_factory=list)
    workspaces: list[str | None] = field(default_factory=list)  # every in_workspace asked
    created_ms: dict[tuple[str, str], int] = field(default_factory=dict)  # for the sweep
    scans: int = 0
    # a version's report and tags are written from several threads at once (as a registry
    # server takes them): each read-modify-write of a version here holds this lock
    writing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def in_workspace(self, workspace: str | None) -> MemoryRegistry:
        self.workspaces.append(workspace)
        return self

    def add(self, name: str, version: str, model: Any, **fields: Any) -> None:
        self.models[(name, version)] = model
        self.versions[(name, version)] = ModelVersion(name, version, "READY", **fields)

    def get_version(self, name: str, version: str) -> ModelVersion:
        from mlops_hooks.shared.domain.errors import VersionNotFound

        if (name, version) not in self.versions:  # as the adapters say it
            raise VersionNotFound(f"{name} v{version} does not exist in the registry")
        mv = self.versions[(name, version)]
        aliases = [a for (n, a), v in self.aliases.items() if n == name and v == version]
        return replace(mv, aliases=aliases)

    def wait_ready(self, name: str, version: str, *, timeout: float = 300) -> ModelVersion:
        return self.get_version(name, version)

    def load_model(self, name: str, version: str, *, known: ModelVersion | None = None) -> Any:
        self.loads += 1
        self.loaded_known.append(known)
        model = self.models[(name, version)]
        if isinstance(model, Exception):
            raise model
        return model

    def lineage(self, run_id: str) -> Lineage:
        return self.runs.get(run_id, Lineage(run_exists=False))

    def write_report(self, name: str, version: str, section: str, markdown: str) -> None:
        with self.writing:
            mv = self.versions[(name, version)]
            self.versions[(name, version)] = replace(
                mv, description=replace_section(mv.description, section, markdown)
            )

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        with self.writing:
            mv = self.versions[(name, version)]
            self.versions[(name, version)] = replace(mv, tags={**mv.tags, **tags})

    def get_alias(self, name: str, alias: str) -> str | None:
        return self.aliases.get((name, alias))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.aliases[(name, alias)] = version

    def request_promotion(self, name, version, *, alias, stage, comment) -> str:
        self.promotions.append((name, version, alias))
        self.set_alias(name, alias, version)
        return f"set alias {alias}"

    def champion_version(self, name: str, *, alias: str, stage: str) -> str | None:
        return self.get_alias(name, alias)

    def promote(self, name, version, *, alias, previous_alias, stage, comment) -> str:
        current = self.get_alias(name, alias)
        if current and current != version:
            self.set_alias(name, previous_alias, current)
        self.set_alias(name, alias, version)
        return f"moved {alias} to v{version}"

    def reject(self, name, version, *, stage, comment, alias=None) -> str:
        self.set_tags(name, version, {tags.PROMOTION: "rejected"})
        if alias is not None and self.aliases.get((name, alias)) == str(version):
            del self.aliases[(name, alias)]
        return "rejected"

    def log_artifact(self, run_id, image, artifact_path) -> str | None:
        assert image.data.startswith(b"\x89PNG"), "the renderer's pictures are PNG"
        self.artifacts.append(f"{run_id}/{artifact_path}/{image.name}")
        return f"http://registry/artifacts/{run_id}/{artifact_path}/{image.name}"

    def version_url(self, name: str, version: str) -> str | None:
        return f"http://registry/{name}/{version}"

    def run_url(self, run_id: str) -> str | None:
        self.run_urls_asked.append(run_id)
        return f"http://registry/runs/{run_id}"

    def changes_since(self, since_ms: int, *, aliases, promote_tag) -> ChangeScan:
        self.scans += 1
        found = [
            RegistryChange("version_created", n, v, at)
            for (n, v), at in self.created_ms.items()
            if at >= since_ms
        ]
        found += [RegistryChange("alias", n, v, value=a) for (n, a), v in self.aliases.items()]
        found += [
            RegistryChange("tag", n, v, value=mv.tags[promote_tag])
            for (n, v), mv in self.versions.items()
            if mv.tags.get(promote_tag)
        ]
        return ChangeScan([c for c in found if c.kind != "alias" or c.value in aliases], 1)


@dataclass
class MemoryTables:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    reads: int = 0

    def read(self, uri: str, fmt: str = "auto", *, sample_rows: int | None = None, version=None):
        self.reads += 1
        if uri not in self.frames:
            raise FileNotFoundError(f"{uri}: no such file")
        return self.frames[uri]

    def rows(self, uri: str) -> int | None:
        return len(self.frames[uri]) if uri in self.frames else None

    def append(self, uri: str, frame: pd.DataFrame, *, partition_by=None) -> None:
        old = self.frames.get(uri)
        self.frames[uri] = frame if old is None else pd.concat([old, frame], ignore_index=True)


@dataclass
class RecordingNotifier:
    messages: list[Notification] = field(default_factory=list)
    approvals: list[ApprovalRequest] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    updates: list[tuple[Posted, str]] = field(default_factory=list)

    def notify(self, message: Notification) -> None:
        self.messages.append(message)

    def request_approval(self, request: ApprovalRequest) -> Posted:
        self.approvals.append(request)
        return {"channel": "C-FAKE", "ts": str(len(self.approvals))}

    def update_request(self, posted: Posted, text: str) -> bool:
        self.updates.append((posted, text))
        return posted is not None

    def answer(self, answer: Answer) -> None:
        self.answers.append(answer)


class FixedClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    def set(self, now: float) -> None:
        self._now = now


class MemoryJobs:
    """The Jobs port without processes: runs are recorded in the ledger and end when told."""

    backend = "memory"

    def __init__(self, ledger: Any, clock: Any) -> None:
        self.ledger = ledger
        self.clock = clock
        self.launched: list[tuple[str, dict[str, str]]] = []

    def launch(self, job: str, spec: Any, params: dict[str, str], *, token: str, event_id: str):
        from mlops_hooks.shared.ports.ledger import JobRun, RunState

        existing = [r for r in self.ledger.list_runs(limit=1000) if r.token == token]
        if existing:
            return existing[0]
        self.launched.append((job, params))
        run = JobRun(
            run_id=f"mem-{len(self.launched)}",
            job=job,
            backend=self.backend,
            state=RunState.RUNNING,
            event_id=event_id,
            token=token,
            params=params,
            started_at=self.clock.now(),
        )
        self.ledger.save_run(run)
        return run

    def refresh(self, run: Any) -> Any:
        return self.ledger.get_run(run.run_id) or run

    def finish(self, run_id: str, ok: bool = True) -> None:
        from mlops_hooks.shared.ports.ledger import RunState

        run = self.ledger.get_run(run_id)
        state = RunState.SUCCESS if ok else RunState.FAILED
        self.ledger.save_run(run.model_copy(update={"state": state, "ended_at": self.clock.now()}))


def dispatcher_over(folder: Any, **ports: Any) -> tuple[Any, Any]:
    """A real dispatcher and SQLite ledger in ``folder`` over the given ports (and a fixed
    clock, no queue, a recording notifier unless given). Close the ledger when done."""
    from mlops_hooks.handlers import BUILTIN
    from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
    from mlops_hooks.shared.bootstrap import bootstrap
    from mlops_hooks.shared.settings import Settings

    ledger = SqliteLedger(folder / "ledger.db")
    ports.setdefault("notifier", RecordingNotifier())
    ports.setdefault("handlers", BUILTIN)
    settings = ports.pop("settings", None) or Settings(state_dir=folder)
    ports.setdefault("clock", FixedClock())
    dispatcher = bootstrap(settings, ledger=ledger, queue=Wakes(), **ports)
    return dispatcher, ledger


def over_live_tables(
    folder: Any, policy: str, *, endpoint_url: str | None = None, registry: Any = None
) -> tuple[Any, Any]:
    """A dispatcher over real Delta tables (delta-rs, S3 through ``endpoint_url``) under
    ``folder/tables``, with ``policy``, and a registry whose champion of churn is v1 unless
    one is given. Close the ledger when done."""
    from mlops_hooks.shared.adapters.table_reader import TableReader
    from mlops_hooks.shared.domain.policy import parse_policy
    from mlops_hooks.shared.settings import Settings

    if registry is None:
        registry = MemoryRegistry()
        registry.add("churn", "1", FakeModel(None), run_id="r1")
        registry.set_alias("churn", "champion", "1")
    return dispatcher_over(
        folder,
        registries={"mlflow": registry},
        tables=TableReader(endpoint_url=endpoint_url),
        policy=parse_policy(policy),
        settings=Settings(state_dir=folder / "state", tables_uri=str(folder / "tables")),
    )
