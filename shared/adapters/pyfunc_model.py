"""A registered model version loaded through MLflow's pyfunc flavor (OSS or Databricks).

The artifacts are downloaded once into a temporary directory, which gives the size check its
number and the signature / input example without a second download.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.ports.registry import Evaluation, InputColumn

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# policy metric name -> mlflow.models.evaluate's default-evaluator metric key
_EVALUATE_KEYS = {
    "roc_auc": "roc_auc",
    "log_loss": "log_loss",
    "f1": "f1_score",
    "accuracy": "accuracy_score",
    "precision": "precision_score",
    "recall": "recall_score",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "r2": "r2_score",
}
# mlflow.models.evaluate starts a run and sets the thread's active model; one at a time per
# process keeps its global state (autologging hooks, active model) out of each other's way.
_EVALUATE_LOCK = threading.Lock()


def _download(
    model_uri: str, folder: Path, tracking_uri: str | None, registry_uri: str | None
) -> str:
    """The version's files into ``folder``. A ``models:/`` URI resolves through a registry:
    the one named here (Unity Catalog: ``databricks-uc``), never MLflow's process default,
    which would be a local SQLite store created in the working directory."""
    import mlflow

    if registry_uri is None:
        return mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=str(folder), tracking_uri=tracking_uri
        )
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository

    repo = ModelsArtifactRepository(model_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
    return repo.download_artifacts(artifact_path="", dst_path=str(folder))


def prime_loading() -> None:
    """Do once, ahead, what MLflow's first ``load_model`` in a process does before loading:
    map every installed distribution to its modules, for the check of the model's requirements
    against this environment (~0.65 s of CPU reading each distribution's file list; the map is
    then MLflow's, module-wide). `serve`'s warm-up calls this, so its first verdict does not
    wait for it. Hand-written because MLflow builds the map only inside that check; a
    version of MLflow without this function is simply not primed."""
    try:
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map
    except ImportError:
        return
    _init_packages_to_modules_map()


def raw_model(model: Any) -> Any:
    """The model under a pyfunc (a scikit-learn pipeline, say); a model that is not a pyfunc
    (the estimator the batch job's workers are sent) is its own; None when the flavor has none.
    """
    if not hasattr(model, "get_raw_model"):
        return model
    try:
        return model.get_raw_model()
    except Exception:
        return None


def class_probabilities(pyfunc: Any, frame: pd.DataFrame) -> tuple[np.ndarray, list | None] | None:
    """predict_proba of the scikit-learn-like model under a pyfunc (or of that model itself, as
    the batch job's workers get it), with its ``classes_`` (None when it has none); None when
    the flavor gives no probabilities. Used by validation (PyfuncModel) and by the batch job's
    scoring."""
    import numpy as np

    raw = raw_model(pyfunc)
    if not hasattr(raw, "predict_proba"):
        return None
    classes = getattr(raw, "classes_", None)
    return np.asarray(raw.predict_proba(frame)), None if classes is None else list(classes)


class PyfuncModel:
    def __init__(
        self,
        model_uri: str,
        *,
        experiment_id: str | Callable[[], str] | None = None,
        run_name: str = "mlops-hooks validation",
        run_tags: dict[str, str] | None = None,
        run_link: Callable[[str, str], str | None] | None = None,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        can_evaluate: bool = True,
        scope: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> None:
        import mlflow
        import mlflow.pyfunc
        from mlflow.models import Model

        started = time.perf_counter()
        self._dir = Path(tempfile.mkdtemp(prefix="mlops-hooks-model-"))
        # close() removes the files; a model nobody closed still does not leave them behind
        # (as tempfile.TemporaryDirectory does it: at garbage collection or interpreter exit)
        self._remove = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        self._scope = scope  # the registry's workspace, for the download and the evaluation run
        try:
            with scope():
                local = _download(model_uri, self._dir, tracking_uri, registry_uri)
            self.path = Path(local)
            self.meta = Model.load(str(self.path))
            self.pyfunc = mlflow.pyfunc.load_model(str(self.path))
        except BaseException:
            self.close()
            raise
        self.load_seconds = time.perf_counter() - started
        self.flavors = [f for f in self.meta.flavors if f != "python_function"]
        self.size_bytes = sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        self._experiment_id = experiment_id  # or how to look it up, when an evaluation starts
        self._run_name = run_name
        self._run_tags = run_tags or {}
        self._run_link = run_link  # (experiment id, run id) -> the run's URL, the registry's
        self.evaluates = can_evaluate

    def close(self) -> None:
        self._remove()

    def input_schema(self) -> list[InputColumn] | None:
        signature = self.meta.signature
        if signature is None or signature.inputs is None:
            return None
        columns = []
        for n, spec in enumerate(signature.inputs.inputs):
            kind = getattr(spec, "type", None)
            type_name = getattr(kind, "name", None) or str(kind)
            name = getattr(spec, "name", None) or f"input_{n}"
            columns.append(InputColumn(name, type_name, bool(getattr(spec, "required", True))))
        return columns

    def input_example(self) -> pd.DataFrame | None:
        import pandas as pd

        try:
            example = self.meta.load_input_example(str(self.path))
        except Exception:  # an unreadable example counts as none
            return None
        if example is None:
            return None
        return example if isinstance(example, pd.DataFrame) else pd.DataFrame(example)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        return np.asarray(self.pyfunc.predict(frame))

    def positive_scores(self, frame: pd.DataFrame, positive: Any) -> np.ndarray | None:
        """predict_proba of the underlying model (scikit-learn-like flavors), else None."""
        found = class_probabilities(self.pyfunc, frame)
        if found is None:
            return None
        proba, classes = found
        names = [str(c) for c in (classes if classes is not None else [0, 1])]
        if proba.ndim != 2 or str(positive) not in names:
            return None
        return proba[:, names.index(str(positive))]

    def evaluate(
        self, frame: pd.DataFrame, label: str, model_type: str, positive: Any
    ) -> Evaluation | None:
        """``mlflow.models.evaluate`` in a run of its own (metrics + plots as the audit)."""
        import mlflow

        if not self.evaluates:
            return None
        config: dict[str, Any] = {"log_model_explainability": False}
        if positive is not None:
            config["pos_label"] = positive
        experiment_id = self._experiment_id
        if callable(experiment_id):
            experiment_id = self._experiment_id = experiment_id()
        with (
            self._scope(),
            _EVALUATE_LOCK,
            mlflow.start_run(
                experiment_id=experiment_id, run_name=self._run_name, tags=self._run_tags
            ) as run,
        ):
            result = mlflow.models.evaluate(
                self.pyfunc,
                frame,
                targets=label,
                model_type=model_type,
                evaluators="default",
                evaluator_config=config,
            )
        metrics = {
            name: float(result.metrics[key])
            for name, key in _EVALUATE_KEYS.items()
            if key in result.metrics
        }
        run_id = run.info.run_id
        # the run's experiment is known here: its link needs no lookup of the run
        link = self._run_link(run.info.experiment_id, run_id) if self._run_link else None
        return Evaluation(metrics, run_id, link)
