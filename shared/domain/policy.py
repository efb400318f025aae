"""The policy file: what to do, per registered model (glob patterns allowed).

One YAML file (``mlops.yml``, or ``MLOPS_HOOKS_POLICY``), validated by pydantic with every
error reported at its line. Per-environment things (URIs, secrets) are settings, never policy.

Resolution for a model: the built-in defaults, overridden by the file's ``defaults`` section,
overridden by the first ``models`` entry whose ``name`` glob matches. Sections merge key by
key, except ``checks``, which a level replaces whole (so a model can run fewer checks).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mlops_hooks.shared.domain.errors import ConfigError
from mlops_hooks.shared.domain.metrics import CATALOGUE

log = logging.getLogger("mlops_hooks.policy")


class PolicyError(ConfigError):
    """The policy file is invalid; ``errors`` holds one "file:line: message" per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- validation checks ------------------------------------------------------------------


class Bound(_Strict):
    min: float | None = None
    max: float | None = None


Metric = Literal[tuple(CATALOGUE)]  # type: ignore[valid-type]  # the catalogue's names


class NoParams(_Strict):
    pass


class MetricsCheck(_Strict):
    thresholds: dict[Metric, Bound] = Field(default_factory=dict)
    # "mlflow": mlflow.models.evaluate in an evaluation run (metrics + ROC/PR/lift/calibration/
    # confusion plots, ~1.5-2 s of rendering); "builtin": the same metrics with scikit-learn,
    # no run, for the fastest verdict
    evaluator: Literal["mlflow", "builtin"] = "mlflow"


class SlicesCheck(_Strict):
    columns: list[str] = Field(min_length=1)
    metric: Metric = "roc_auc"
    min: float
    min_rows: int = Field(default=30, ge=1)  # smaller slices are reported, not judged


class LatencyCheck(_Strict):
    p95_ms: float = Field(default=200, gt=0)
    batch_rows: int = Field(default=1000, ge=1)
    repeats: int = Field(default=10, ge=1)


class SizeCheck(_Strict):
    max_mb: float = Field(default=500, gt=0)


class TagsCheck(_Strict):
    required: list[str] = Field(min_length=1)


class Checks(_Strict):
    """The validation checks to run; an unknown name is an error."""

    loads: NoParams | None = None
    signature: NoParams | None = None
    input_example: NoParams | None = None
    predictions: NoParams | None = None
    metrics: MetricsCheck | None = None
    slices: SlicesCheck | None = None
    latency: LatencyCheck | None = None
    size: SizeCheck | None = None
    tags: TagsCheck | None = None
    lineage: NoParams | None = None

    def names(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


# --- the other sections -----------------------------------------------------------------


class DataFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    PARQUET = "parquet"
    DELTA = "delta"


class Holdout(_Strict):
    uri: str | None = None  # local path, s3://, or a Delta table path
    format: DataFormat = DataFormat.AUTO
    label: str = "label"
    # what the label is: "auto" guesses (two distinct values or strings -> classifier)
    model_type: Literal["auto", "classifier", "regressor"] = "auto"
    # the positive class of a binary classifier; default: the larger of the two labels
    # (1, True, "Yes" > "No"), which is also scikit-learn's convention
    positive_label: str | int | bool | None = None
    sample_rows: int | None = Field(default=None, ge=1)


class Aliases(_Strict):
    champion: str = "champion"
    challenger: str = "challenger"
    previous: str = "previous_champion"


class Promotion(_Strict):
    mode: Literal["auto", "manual"] = "manual"
    # after a passed validation: ask for promotion (OSS: set the challenger alias;
    # Databricks: create a transition request to target_stage) or do nothing
    after_validation: Literal["request", "none"] = "request"
    target_stage: Literal["Staging", "Production"] = "Production"
    reviewers: list[str] = Field(default_factory=list)  # Slack user ids
    # who may approve / reject from the command line (`mlops-hooks approve|reject`): OS user
    # names, or the MLOPS_HOOKS_REVIEWER name on a shared host
    cli_reviewers: list[str] = Field(default_factory=list)


class Comparison(_Strict):
    metric: Metric = "roc_auc"
    # follows from the metric (log_loss, rmse, mae: minimize); stating it is a check
    direction: Literal["maximize", "minimize"] | None = None
    min_improvement: float = 0.0
    confidence: float = Field(default=0.95, gt=0, lt=1)
    resamples: int = Field(default=1000, ge=10)
    seed: int | None = 0
    # metric -> the largest allowed regression of the challenger against the champion
    guardrails: dict[Metric, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _direction_of_metric(self) -> Comparison:
        natural = CATALOGUE[self.metric].direction
        if self.direction is None:
            self.direction = natural
        elif self.direction != natural:
            raise ValueError(f"{self.metric} is to {natural}, not to {self.direction}")
        return self


class Job(_Strict):
    name: str | None = None  # the Databricks job name (the bundle's, per stage)
    entry_point: str | None = None  # local: mlops_hooks.jobs.<module>
    params: dict[str, str] = Field(default_factory=dict)


class Jobs(_Strict):
    train: Job = Field(default_factory=Job)
    batch_inference: Job = Field(default_factory=Job)
    drift_check: Job = Field(default_factory=Job)

    @model_validator(mode="after")
    def _entry_points(self) -> Jobs:
        """Each job runs its own module unless the policy names another."""
        for name in type(self).model_fields:
            job = getattr(self, name)
            if job.entry_point is None:
                job.entry_point = f"mlops_hooks.jobs.{name}"
        return self


class Watch(_Strict):
    bucket: str
    prefix: str = ""


class DataContract(_Strict):
    required_columns: dict[str, Literal["string", "integer", "float", "boolean", "any"]] = Field(
        default_factory=dict
    )
    min_rows: int = Field(default=1, ge=0)
    max_null_fraction: float = Field(default=1.0, ge=0, le=1)


class Labels(_Strict):
    """Where true outcomes come from: S3 objects under bucket/prefix (landing like data), or a
    Delta ``table`` read by a schedule (``task: labels``); and how to read them: the row id
    they are joined on, the label column."""

    bucket: str | None = None
    prefix: str = ""
    table: str | None = None
    id_column: str
    label_column: str
    # a label landing later than this after its score date is counted as late (still joined)
    expected_within_days: int = Field(default=7, ge=0)

    @model_validator(mode="after")
    def _one_source(self) -> Labels:
        if (self.bucket is None) == (self.table is None):
            raise ValueError("give the labels' bucket (objects landing in S3) or their table")
        return self


class Live(_Strict):
    """When the champion's live performance counts as degraded (concept drift): its metric
    below ``floor``, or below its holdout value by more than ``allowance``, on ``violations``
    of the last ``window`` labelled days with at least ``min_labelled_rows`` each."""

    metric: Metric | None = None  # default: comparison.metric
    floor: float | None = None
    allowance: float | None = Field(default=None, ge=0)
    violations: int = Field(default=3, ge=1)
    window: int = Field(default=5, ge=1)
    min_labelled_rows: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _n_of_m(self) -> Live:
        if self.violations > self.window:
            raise ValueError("violations (N) cannot exceed window (M days)")
        return self


class Deployment(_Strict):
    """How versions meet live data in batch inference: ``single`` (the champion),
    ``shadow`` (the challengers scored beside it, never served) or ``split`` (an A/B split of
    the rows by a hash of ``assign_by``)."""

    mode: Literal["single", "shadow", "split"] = "single"
    challengers: list[str] = Field(default_factory=lambda: ["challenger"])  # aliases, versions
    split: dict[str, int] = Field(default_factory=dict)  # arm -> percent of the rows
    assign_by: str | None = None  # the id column a row's arm is drawn from
    # labelled live rows a challenger needs before its live comparison asks for promotion
    evidence_rows: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _a_split_adds_up(self) -> Deployment:
        if self.mode != "split":
            return self
        if not self.assign_by:
            raise ValueError("a split needs assign_by: the id column a row's arm is drawn from")
        arms = {"champion", *self.challengers}
        if not self.split:
            raise ValueError("a split needs split: {champion: 90, challenger: 10}")
        unknown = sorted(set(self.split) - arms)
        if unknown:
            raise ValueError(f"split arms must be champion or a challenger, not {unknown[0]!r}")
        if sum(self.split.values()) != 100 or min(self.split.values()) < 0:
            raise ValueError(f"split shares must add up to 100, not {sum(self.split.values())}")
        return self


class Data(_Strict):
    watch: list[Watch] = Field(default_factory=list)
    labels: Labels | None = None
    contract: DataContract = Field(default_factory=DataContract)
    # row identifiers (e.g. customerID): never features, never compared for drift
    id_columns: list[str] = Field(default_factory=list)


class Drift(_Strict):
    psi_warn: float = Field(default=0.1, gt=0)
    psi_drift: float = Field(default=0.25, gt=0)
    cooldown_hours: float = Field(default=24, ge=0)
    features: list[str] = Field(default_factory=list)  # empty: every feature
    # the scheduled check runs in the serve / worker process when the scored window has at
    # most this many rows (0: always the drift_check job)
    in_process_max_rows: int = Field(default=1_000_000, ge=0)
    window_days: int = Field(default=1, ge=1)  # scoring days compared with the reference
    # the table today's data is compared with (Delta, Parquet or CSV; a Delta version pins it);
    # unset: the champion's training table, as the train job logged it on its run
    reference: str | None = None
    reference_version: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Drift:
        if self.psi_drift < self.psi_warn:
            raise ValueError("psi_drift must be at least psi_warn")
        return self


class Schedule(_Strict):
    name: str
    cron: str
    task: Literal["batch_inference", "drift_check", "reconcile", "labels"]
    model: str | None = None  # default: the model the entry applies to

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5:
            raise ValueError("cron needs five fields: minute hour day-of-month month weekday")
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value


class ModelPolicy(_Strict):
    """The effective policy of one model."""

    checks: Checks
    holdout: Holdout = Field(default_factory=Holdout)
    aliases: Aliases = Field(default_factory=Aliases)
    promotion: Promotion = Field(default_factory=Promotion)
    comparison: Comparison = Field(default_factory=Comparison)
    jobs: Jobs = Field(default_factory=Jobs)
    data: Data = Field(default_factory=Data)
    drift: Drift = Field(default_factory=Drift)
    deployment: Deployment = Field(default_factory=Deployment)
    live: Live = Field(default_factory=Live)
    schedules: list[Schedule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _holdout_for_data_checks(self) -> ModelPolicy:
        needing = [name for name in ("metrics", "slices") if getattr(self.checks, name)]
        if needing and not self.holdout.uri:
            raise ValueError(f"checks {' and '.join(needing)} need holdout.uri")
        return self

    @model_validator(mode="after")
    def _labels_for_live_trials(self) -> ModelPolicy:
        # a challenger that wins on the holdout waits for live evidence: with no labels it
        # would wait for ever
        if self.deployment.mode != "single" and self.data.labels is None:
            raise ValueError(
                f"deployment.mode {self.deployment.mode} needs data.labels: the live evidence "
                "that decides a challenger comes from the labels"
            )
        return self


BUILTIN_CHECKS = {"loads": {}, "signature": {}, "input_example": {}, "predictions": {}}
SECTIONS = tuple(name for name in ModelPolicy.model_fields if name != "checks")


class _Sections(_Strict):
    """Every section optional: what a file's ``defaults`` or a model entry may set."""

    checks: Checks | None = None
    holdout: Holdout | None = None
    aliases: Aliases | None = None
    promotion: Promotion | None = None
    comparison: Comparison | None = None
    jobs: Jobs | None = None
    data: Data | None = None
    drift: Drift | None = None
    deployment: Deployment | None = None
    live: Live | None = None
    schedules: list[Schedule] | None = None


class ModelEntry(_Sections):
    name: str = Field(min_length=1)  # a glob: "churn", "churn-*", "*"


class PolicyFile(_Strict):
    version: Literal[1] = 1
    defaults: _Sections = Field(default_factory=_Sections)
    models: list[ModelEntry] = Field(default_factory=list)


# --- resolution ----------------------------------------------------------------------------


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if key != "checks" and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class Policy:
    """A loaded policy file (or the built-in default) answering "what applies to MODEL?"."""

    def __init__(
        self, file: PolicyFile, source: str = "built-in default", digest: str = "built-in"
    ) -> None:
        self.file = file
        self.source = source
        self.digest = digest  # the first 12 hex digits of the file's sha256: in every outcome

    @property
    def label(self) -> str:
        return self.source if self.digest == "built-in" else f"{self.source} (sha256 {self.digest})"

    def entry_for(self, model: str) -> ModelEntry | None:
        return next((e for e in self.file.models if fnmatch.fnmatchcase(model, e.name)), None)

    def for_model(self, model: str) -> ModelPolicy:
        return _resolve(self.file, self.entry_for(model))

    def schedules(self) -> list[tuple[str, Schedule, str]]:
        """Every model entry's schedules: (rule name "model:schedule", schedule, model).

        A schedule without ``model`` is for its entry's model, which a glob entry cannot name:
        those are left out (``policy check`` says so).
        """
        found = []
        for entry in self.file.models:
            for schedule in _resolve(self.file, entry).schedules:
                model = schedule.model or (
                    None if any(ch in entry.name for ch in "*?[") else entry.name
                )
                if model:
                    found.append((f"{model}:{schedule.name}", schedule, model))
        return found

    def runs_jobs(self) -> bool:
        """Does any model entry launch jobs on its own (data it watches, schedules)?"""
        return any(
            (policy := _resolve(self.file, entry)).data.watch or policy.schedules
            for entry in self.file.models
        )

    def watchers(self, bucket: str, key: str) -> list[tuple[str, ModelPolicy]]:
        """The models whose ``data.watch`` covers s3://bucket/key: (model name, its policy).

        A model entry named by a glob ("churn-*") names its model in
        ``jobs.train.params.model``; one that does not cannot be trained and is left out.
        """
        found = []
        for entry in self.file.models:
            policy = _resolve(self.file, entry)
            watched = any(
                w.bucket == bucket and key.startswith(w.prefix) for w in policy.data.watch
            )
            name = policy.jobs.train.params.get("model") or (
                None if any(ch in entry.name for ch in "*?[") else entry.name
            )
            if watched and name:
                found.append((name, policy))
        return found

    def label_watchers(self, bucket: str, key: str) -> list[tuple[str, ModelPolicy]]:
        """The models whose ``data.labels`` prefix covers s3://bucket/key (a glob entry names
        its model in ``jobs.train.params.model``, as for data)."""
        found = []
        for entry in self.file.models:
            policy = _resolve(self.file, entry)
            labels = policy.data.labels
            if labels is None or labels.bucket != bucket or not key.startswith(labels.prefix):
                continue
            name = policy.jobs.train.params.get("model") or (
                None if any(ch in entry.name for ch in "*?[") else entry.name
            )
            if name:
                found.append((name, policy))
        return found

    def warnings(self) -> list[str]:
        """Valid, but probably not meant: said by ``policy check``, never fatal."""
        levels = [("defaults", None), *((f"model {e.name!r}", e) for e in self.file.models)]
        said = []
        for where, entry in levels:
            promotion = _resolve(self.file, entry).promotion
            if promotion.mode == "manual" and not (promotion.reviewers or promotion.cli_reviewers):
                said.append(
                    f"{where}: promotion.mode is manual but promotion.reviewers and "
                    "promotion.cli_reviewers are empty, so nobody can approve a promotion "
                    "(list Slack user ids or OS user names, or use mode: auto)"
                )
            resolved = _resolve(self.file, entry)
            globbed = entry is not None and any(ch in entry.name for ch in "*?[")
            unnamed = [s.name for s in resolved.schedules if not s.model]
            if globbed and unnamed:
                said.append(
                    f"{where}: schedules {', '.join(unnamed)} need a model on a glob entry; "
                    "they do not run until they name one"
                )
            if globbed and resolved.data.watch and "model" not in resolved.jobs.train.params:
                said.append(
                    f"{where}: data.watch on a glob entry needs jobs.train.params.model "
                    "(the model to train); landed data is not trained on until it is set"
                )
        return said


def how_approved(promotion: Promotion, *, slack: bool) -> str:
    """Pure: how a validated version becomes champion under this promotion section, with what
    is configured (said by ``serve`` at start-up and by ``policy show``)."""
    if promotion.mode == "auto":
        return "auto: a validated challenger that beats the champion is promoted"
    routes = []
    if promotion.reviewers:
        routes.append(
            f"a Slack click by {', '.join(promotion.reviewers)}"
            if slack
            else "Slack reviewers are listed but Slack is not configured (SLACK_BOT_TOKEN or "
            "SLACK_WEBHOOK_URL, and SLACK_SIGNING_SECRET)"
        )
    if promotion.cli_reviewers:
        routes.append(
            f"`mlops-hooks approve MODEL VERSION` by {', '.join(promotion.cli_reviewers)}"
        )
    if not routes:
        return (
            "manual, and nobody can approve: list promotion.cli_reviewers (OS user names) or "
            "promotion.reviewers (Slack user ids), or set promotion.mode: auto"
        )
    return "manual: " + "; ".join(routes)


def text_digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


class PolicyWatch:
    """The policy in force, re-read when its file changes: ``serve`` picks up an edit without
    a restart. An edit is validated first; an invalid one is refused (its line-precise errors
    logged once) and the policy in force stays. Unset, it watches ./mlops.yml (the built-in
    default while there is none). Checked at most every ``check_seconds`` (a stat call)."""

    def __init__(
        self,
        path: Path | None,
        *,
        check_seconds: float = 1.0,
        on_change: list[Callable[[Policy], None]] | None = None,
    ) -> None:
        import threading

        self.explicit = path is not None
        self.path = Path(path) if path is not None else Path("mlops.yml")
        self.check_seconds = check_seconds
        self.on_change = on_change if on_change is not None else []
        self._lock = threading.Lock()
        self._stat: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._refused: str | None = None
        self.current = load_policy(self.path if self.explicit or self.path.exists() else None)
        self._stat = self._stat_now()

    def __call__(self) -> Policy:
        import time

        if time.monotonic() - self._checked < self.check_seconds:
            return self.current
        with self._lock:
            self._checked = time.monotonic()
            stat = self._stat_now()
            if stat == self._stat:
                return self.current
            self._stat = stat
            changed = self._reload(stat)
        if changed:
            for callback in self.on_change:
                try:
                    callback(self.current)
                except Exception:  # a callback's failure never undoes the reload
                    log.exception("after the policy reload")
        return self.current

    def _stat_now(self) -> tuple[int, int] | None:
        try:
            found = self.path.stat()
        except OSError:
            return None
        return (found.st_mtime_ns, found.st_size)

    def _reload(self, stat: tuple[int, int] | None) -> bool:
        if stat is None and not self.explicit:  # ./mlops.yml removed: the built-in default
            fresh = default_policy()
        else:
            try:
                fresh = load_policy(self.path)
            except PolicyError as exc:
                said = "\n".join(exc.errors)
                if said != self._refused:
                    self._refused = said
                    log.error(
                        "policy edit refused; still in force: %s\n%s", self.current.label, said
                    )
                return False
        self._refused = None
        if fresh.digest == self.current.digest:
            return False
        log.info("policy reloaded: %s (was %s)", fresh.label, self.current.label)
        self.current = fresh
        return True


def default_policy() -> Policy:
    return Policy(PolicyFile())


def load_policy(path: str | Path | None) -> Policy:
    """The policy at ``path``; the built-in default when ``path`` is None.

    Raises PolicyError listing every problem as "file:line: where: message".
    """
    if path is None:
        return default_policy()
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError([f"{path}: cannot read the policy file: {exc.strerror}"]) from None
    return parse_policy(text, str(path))


def parse_policy(text: str, name: str = "policy") -> Policy:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError([f"{where}: invalid YAML: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyError([f"{name}:1: the policy must be a mapping (version, defaults, models)"])
    lines = _line_map(node)
    try:
        file = PolicyFile.model_validate(data)
    except ValidationError as exc:
        located = sorted(_located(name, lines, err) for err in exc.errors())  # file order
        raise PolicyError([text for _, text in located]) from None
    # The defaults and each entry must also resolve to a valid effective policy
    # (cross-level rules, e.g. a metrics check needs a holdout from some level).
    problems = []
    levels = [(None, lines.get(("defaults",), 1), "defaults")] + [
        (entry, lines.get(("models", n), 1), f"models[{n}] ({entry.name})")
        for n, entry in enumerate(file.models)
    ]
    for entry, line, label in levels:
        try:
            _resolve(file, entry)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                message = err["msg"].removeprefix("Value error, ")
                problems.append(
                    f"{name}:{line}: {label}: " + (f"{where}: " if where else "") + message
                )
    if problems:
        raise PolicyError(problems)
    return Policy(file, source=name, digest=text_digest(text))


def _resolve(file: PolicyFile, entry: ModelEntry | None) -> ModelPolicy:
    merged: dict[str, Any] = {"checks": BUILTIN_CHECKS}
    for level in (file.defaults, entry):
        if level is not None:
            merged = _merge(merged, level.model_dump(exclude_unset=True, exclude={"name"}))
    return ModelPolicy.model_validate(merged)


def _line_map(node: Any, path: tuple = ()) -> dict[tuple, int]:
    """Path of every mapping key and sequence item -> its 1-based line."""
    import yaml

    lines: dict[tuple, int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines.update(_line_map(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            lines.update(_line_map(item, (*path, n)))
    return lines


def _located(name: str, lines: dict[tuple, int], err: dict[str, Any]) -> tuple[int, str]:
    loc = tuple(err["loc"])
    # pydantic adds model/union names to the location; keep the parts that are in the file
    path = tuple(p for p in loc if not (isinstance(p, str) and p[:1].isupper()))
    line = 1
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            line = lines[path[:cut]]
            break
    where = _dotted(path)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        hint = _suggest(str(path[-1]), loc)
        message = f"unknown key {path[-1]!r}" + (f" (did you mean {hint!r}?)" if hint else "")
    return line, f"{name}:{line}: {where}: {message}"


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "policy"


def _suggest(key: str, loc: tuple) -> str | None:
    import difflib

    known: list[str] = []
    for model in (PolicyFile, _Sections, ModelEntry, Checks, *_SECTION_MODELS):
        known.extend(model.model_fields)
    match = difflib.get_close_matches(key, set(known), n=1, cutoff=0.75)
    return match[0] if match else None


_SECTION_MODELS = (
    Holdout,
    Aliases,
    Promotion,
    Comparison,
    Jobs,
    Job,
    Data,
    Watch,
    DataContract,
    Drift,
    Schedule,
    MetricsCheck,
    SlicesCheck,
    LatencyCheck,
    SizeCheck,
    TagsCheck,
)
