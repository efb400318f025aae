"""The ports handlers talk through, and the bundle of them a handler receives.

A port that a deployment does not configure is None (or absent from ``registries``), and a
handler that needs it fails with a clear error (see ``Deps.need`` / ``Deps.registry_for``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlops_hooks.shared.ledger import JobRun, Ledger
from mlops_hooks.shared.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from mlops_hooks.shared.policy import Job as JobSpec
    from mlops_hooks.shared.policy import ModelPolicy, Policy


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()


class Queue(Protocol):
    """Wakes whoever drains the ledger: the local worker pool, or the SQS worker function."""

    def notify(self, event_id: str) -> None: ...


class NoQueue:
    """For one-shot processes (CLI) where nothing waits to be woken."""

    def notify(self, event_id: str) -> None:
        return None


@dataclass(frozen=True)
class ModelVersion:
    """What the registry says about one model version."""

    name: str
    version: str
    status: str  # READY, PENDING_REGISTRATION, FAILED_REGISTRATION
    source: str | None = None
    run_id: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    stage: str | None = None


@dataclass(frozen=True)
class InputColumn:
    """One column of a model's input signature."""

    name: str
    type: str  # MLflow's data type name: double, float, long, integer, string, boolean, ...
    required: bool = True


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one evaluation run (names as in the policy: roc_auc, f1, rmse, ...)."""

    metrics: dict[str, float]
    run_id: str | None = None
    run_url: str | None = None


class LoadedModel(Protocol):
    """A model version loaded for scoring, with what validation needs to know about it."""

    flavors: list[str]
    size_bytes: int
    load_seconds: float

    def input_schema(self) -> list[InputColumn] | None:
        """The signature's inputs; None when the model was logged without a signature."""
        ...

    def input_example(self) -> pd.DataFrame | None: ...

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...

    def positive_scores(self, frame: pd.DataFrame, positive: Any) -> np.ndarray | None:
        """P(label == positive) per row, when the model gives probabilities; else None."""
        ...

    def evaluate(
        self, frame: pd.DataFrame, label: str, model_type: str, positive: Any
    ) -> Evaluation | None:
        """Metrics from the registry's own evaluator (MLflow: ``mlflow.models.evaluate``)."""
        ...

    def close(self) -> None:
        """Free what loading took (downloaded artifacts)."""
        ...


@dataclass(frozen=True)
class Lineage:
    """What the version's source run recorded."""

    run_exists: bool
    params: int = 0
    param_values: dict[str, str] = field(default_factory=dict)  # the run's params
    datasets: list[str] = field(default_factory=list)  # "name (context)"
    training_datasets: int = 0
    run_url: str | None = None


class Registry(Protocol):
    """A model registry: MLflow OSS, or a Databricks workspace."""

    def get_version(self, name: str, version: str) -> ModelVersion: ...

    def wait_ready(self, name: str, version: str, *, timeout: float = 300) -> ModelVersion: ...

    def load_model(self, name: str, version: str) -> LoadedModel: ...

    def lineage(self, run_id: str) -> Lineage: ...

    def request_promotion(
        self, name: str, version: str, *, alias: str, stage: str, comment: str
    ) -> str:
        """Ask for promotion the registry's way; returns what was done, for the audit."""
        ...

    def write_report(self, name: str, version: str, section: str, markdown: str) -> None: ...

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None: ...

    def get_alias(self, name: str, alias: str) -> str | None: ...

    def set_alias(self, name: str, alias: str, version: str) -> None: ...

    def version_url(self, name: str, version: str) -> str | None: ...

    def run_url(self, run_id: str) -> str | None: ...

    def champion_version(self, name: str, *, alias: str, stage: str) -> str | None:
        """The serving version: by alias (MLflow, Unity Catalog) or stage (workspace)."""
        ...

    def promote(
        self, name: str, version: str, *, alias: str, previous_alias: str, stage: str, comment: str
    ) -> str:
        """Make the version champion (keeping the previous one findable); says what it did."""
        ...

    def reject(self, name: str, version: str, *, stage: str, comment: str) -> str: ...

    def log_artifact(self, run_id: str, path: Path, artifact_path: str) -> str | None:
        """Attach a file to a run; returns a URL to it when the registry serves one."""
        ...


@dataclass(frozen=True)
class Notification:
    """A message for people: a verdict, a short text, some facts and a link to act on."""

    title: str
    text: str
    verdict: str = "info"  # "passed", "failed", "info", "warning"
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. the failing checks
    link_url: str | None = None
    link_label: str = "Open"


@dataclass(frozen=True)
class ApprovalRequest:
    """Ask the reviewers to approve or reject a promotion.

    ``request_id`` (the promotion_requested event's id) travels on the Approve / Reject
    buttons and comes back with the click as an ``approval`` event.
    """

    message: Notification
    request_id: str
    table: list[list[str]] = field(default_factory=list)  # header row, then one row per metric
    reviewers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Answer:
    """The answer to a reviewer's click, sent back where the request was shown.

    ``reply_to`` is the transport's return address (Slack: the click's ``response_url``).
    Private answers reach only the clicker and leave the request as it was (not allowed,
    already decided); a public one replaces the request's buttons with ``text``, keeping
    ``original`` (the request as the reviewer saw it) above.
    """

    reply_to: str
    text: str
    private: bool = False
    original: list[dict[str, Any]] = field(default_factory=list)


class Notifier(Protocol):
    def notify(self, message: Notification) -> None: ...

    def request_approval(self, request: ApprovalRequest) -> None: ...

    def answer(self, answer: Answer) -> None: ...


class LogNotifier:
    """The default when no Slack is configured: the message goes to the log."""

    def __init__(self) -> None:
        import logging

        self.log = logging.getLogger("mlops_hooks.notify")

    def notify(self, message: Notification) -> None:
        problems = f" problems: {', '.join(message.problems)}" if message.problems else ""
        self.log.info("[%s] %s: %s%s", message.verdict, message.title, message.text, problems)

    def request_approval(self, request: ApprovalRequest) -> None:
        self.notify(request.message)
        self.log.warning(
            "approval needed for %s, but no Slack is configured to ask reviewers %s "
            "(set SLACK_BOT_TOKEN or SLACK_WEBHOOK_URL, and SLACK_SIGNING_SECRET)",
            request.request_id,
            ", ".join(request.reviewers) or "(none listed in promotion.reviewers)",
        )

    def answer(self, answer: Answer) -> None:
        self.log.info("answer to a reviewer: %s", answer.text)


class Tables(Protocol):
    """Reads a table (holdout, landed data) into pandas; appends to a Delta table."""

    def read(
        self,
        uri: str,
        fmt: str = "auto",
        *,
        sample_rows: int | None = None,
        version: int | None = None,  # a Delta table's version (time travel)
    ) -> pd.DataFrame: ...

    def append(
        self, uri: str, frame: pd.DataFrame, *, partition_by: list[str] | None = None
    ) -> None:
        """Append rows to a Delta table (created by the first append)."""
        ...


class Jobs(Protocol):
    """Launches the Spark jobs (jobs/) without waiting for them; the ledger keeps their runs."""

    backend: str  # "local", "databricks"

    def launch(
        self, job: str, spec: JobSpec, params: dict[str, str], *, token: str, event_id: str
    ) -> JobRun:
        """Start a run, or return the one already started with ``token`` (never two)."""
        ...

    def refresh(self, run: JobRun) -> JobRun:
        """The run's state now, saved to the ledger."""
        ...


def run_token(event_key: str, job: str) -> str:
    """The idempotency token of the run an event launches: ≤ 64 characters (Databricks')."""
    import hashlib

    return "mlops-" + hashlib.sha256(f"{job}\n{event_key}".encode()).hexdigest()[:40]


class PortMissing(RuntimeError):
    """A handler needs a port this deployment does not configure."""


@dataclass
class Deps:
    """Everything a handler may use. Built by bootstrap; tests pass fakes.

    ``registries`` maps an event's ``registry`` ("mlflow", "databricks") to its adapter; it may
    be a lazy mapping, so an edge function that never handles an event never imports mlflow.
    """

    settings: Settings
    ledger: Ledger
    clock: Clock = field(default_factory=SystemClock)
    registries: Mapping[str, Registry] = field(default_factory=dict)
    jobs: Jobs | None = None
    notifier: Notifier = field(default_factory=lambda: LogNotifier())
    tables: Tables | None = None
    policy: Policy | Callable[[], Policy] | None = None

    def need(self, name: str) -> Any:
        port = getattr(self, name)
        if port is None:
            raise PortMissing(f"the {name} port is not configured in this deployment")
        return port

    def registry_for(self, registry: str) -> Registry:
        try:
            return self.registries[registry]
        except KeyError:
            raise PortMissing(
                f"no {registry!r} registry is configured in this deployment"
            ) from None

    def loaded_policy(self) -> Policy:
        """The policy, loaded on first use (the built-in default when none is set)."""
        from mlops_hooks.shared.policy import Policy, default_policy

        if self.policy is None:
            self.policy = default_policy()
        elif not isinstance(self.policy, Policy):
            self.policy = self.policy()
        return self.policy

    def policy_for(self, model: str) -> ModelPolicy:
        return self.loaded_policy().for_model(model)
