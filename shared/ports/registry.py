"""The registry port (MLflow OSS, a Databricks workspace, Unity Catalog) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mlops_hooks.shared.domain.sweep import ChangeScan
from mlops_hooks.shared.ports.renderer import Image

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


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
    evaluates: bool  # evaluate() writes an evaluation run (MLflow), else it answers None

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
    metrics: dict[str, float] = field(default_factory=dict)  # the run's metrics (latest values)


class Registry(Protocol):
    """A model registry: MLflow OSS, or a Databricks workspace."""

    def in_workspace(self, workspace: str | None) -> Registry:
        """This registry as one MLflow 3 workspace sees it (None: the server's default)."""
        ...

    def get_version(self, name: str, version: str) -> ModelVersion: ...

    def wait_ready(self, name: str, version: str, *, timeout: float = 300) -> ModelVersion: ...

    def load_model(
        self, name: str, version: str, *, known: ModelVersion | None = None
    ) -> LoadedModel:
        """``known``: the version as the caller has just read it (``wait_ready``): its source
        run is taken from there rather than asked for again."""
        ...

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

    def reject(
        self, name: str, version: str, *, stage: str, comment: str, alias: str | None = None
    ) -> str:
        """Turn the request down; ``alias`` (the challenger alias) comes off the version if it
        is still there: a rejected version is nobody's challenger."""
        ...

    def log_artifact(self, run_id: str, image: Image, artifact_path: str) -> str | None:
        """Attach a rendered picture to a run; returns a URL to it when the registry serves one."""
        ...

    def changes_since(
        self, since_ms: int, *, aliases: frozenset[str], promote_tag: str
    ) -> ChangeScan:
        """For the sweep: versions created at or after ``since_ms`` (server-side ordering, so an
        idle registry costs one call), plus the promotion requests in force now (versions with
        one of ``aliases``, with ``promote_tag``, with an open transition request)."""
        ...
