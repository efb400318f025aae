"""The model_registered handler through the real dispatcher and ledger, over port fakes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_hooks.handlers.model_registered import _write_verdict_last
from mlops_hooks.shared.adapters.markdown import read_section
from mlops_hooks.shared.dispatch import Dispatcher
from mlops_hooks.shared.domain import churn_data, events, tags
from mlops_hooks.shared.domain.events import EventKind, Source
from mlops_hooks.shared.domain.policy import parse_policy
from mlops_hooks.shared.ports.ledger import Status
from tests.support.fakes import (
    Constant,
    FakeModel,
    MemoryRegistry,
    MemoryTables,
    RecordingNotifier,
    dispatcher_over,
    schema_of,
)

POLICY = """
models:
  - name: churn
    checks:
      loads: {}
      signature: {}
      predictions: {}
      metrics: {thresholds: {roc_auc: {min: 0.75}}}
    holdout: {uri: "memory://holdout", label: Churn}
    promotion: {mode: auto}
"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Dispatcher, MemoryRegistry, RecordingNotifier]]:
    frame = churn_data.generate(2500, seed=3)
    train, holdout = frame.iloc[:2000], frame.iloc[2000:]
    features = holdout.drop(columns=["Churn"])
    registry = MemoryRegistry()
    registry.add(
        "churn",
        "1",
        FakeModel(churn_data.train_classifier(train), schema_of(features), features.head(2)),
        description="Trained by Ada on the Q3 extract.",
    )
    registry.add("churn", "2", FakeModel(Constant("No"), schema_of(features)))
    registry.add("fraud", "1", FakeModel(Constant(0), None))
    notifier = RecordingNotifier()
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"mlflow": registry},
        tables=MemoryTables({"memory://holdout": holdout}),
        notifier=notifier,
        policy=parse_policy(POLICY, "mlops.yml"),
    )
    yield dispatcher, registry, notifier
    ledger.close()


def deliver(dispatcher: Dispatcher, name: str, version: str):
    recorded = dispatcher.submit(events.model_registered(Source.MLFLOW, name, version))
    return dispatcher.process(recorded.record.id)


def test_a_passing_version_gets_report_tags_message_and_a_promotion_request(world) -> None:
    dispatcher, registry, notifier = world
    record = deliver(dispatcher, "churn", "1")
    assert record.status is Status.DONE and record.outcome["result"] == "passed"
    mv = registry.get_version("churn", "1")
    assert mv.tags["mlops.validation"] == "passed"
    assert mv.tags["mlops.validation.failed"] == ""
    assert mv.tags["mlops.validated_at"] == "2027-01-15T08:00:00+00:00"
    report = read_section(mv.description, "validation")
    assert report.startswith("### mlops-hooks validation: ✅ passed")
    assert "| `metrics` | ✅ passed | roc_auc 0.8" in report
    assert "policy `mlops.yml`" in report and "[this version](http://registry/churn/1)" in report
    assert mv.description.startswith("Trained by Ada on the Q3 extract.")
    [message] = notifier.messages
    assert message.verdict == "passed" and message.link_url == "http://registry/churn/1"
    # OSS: the challenger alias is the request; the emitted event has the webhook's key
    assert registry.aliases[("churn", "challenger")] == "1"
    [emitted] = record.outcome["emitted"]
    child = dispatcher.ledger.get(emitted)
    assert child.event.kind is EventKind.PROMOTION_REQUESTED and child.event.target == "champion"
    assert (
        child.event.key == events.promotion_requested(Source.MLFLOW, "churn", "1", "champion").key
    )


def test_a_failing_version_is_tagged_with_the_failing_checks_and_not_promoted(world) -> None:
    dispatcher, registry, notifier = world
    record = deliver(dispatcher, "churn", "2")
    assert record.outcome["result"] == "failed"
    assert record.outcome["summary"] == "validation failed: metrics"
    mv = registry.get_version("churn", "2")
    assert mv.tags["mlops.validation.failed"] == "metrics"
    assert "roc_auc 0.5000 (needs ≥ 0.75)" in read_section(mv.description, "validation")
    assert notifier.messages[0].problems == ["metrics: roc_auc 0.5000 (needs ≥ 0.75)"]
    assert registry.promotions == [] and record.outcome["emitted"] == []


def test_replay_rewrites_the_same_section(world) -> None:
    dispatcher, registry, _ = world
    first = deliver(dispatcher, "churn", "1")
    dispatcher.replay(first.id)
    again = dispatcher.process(first.id)
    assert again.status is Status.DONE and registry.loads == 2
    description = registry.get_version("churn", "1").description
    assert description.count("<!-- mlops-hooks:validation:begin -->") == 1


def test_models_outside_the_policy_get_the_built_in_checks(world) -> None:
    dispatcher, registry, _ = world
    record = deliver(dispatcher, "fraud", "1")
    assert record.outcome["summary"] == "validation failed: signature, input_example"
    assert registry.get_version("fraud", "1").tags["mlops.validation"] == "failed"


def test_an_unconfigured_registry_sends_the_event_dead_at_once(world) -> None:
    dispatcher, _, _ = world
    recorded = dispatcher.submit(events.model_registered(Source.DATABRICKS, "churn", "1"))
    record = dispatcher.process(recorded.record.id)
    assert record.status is Status.DEAD and record.attempts == 1
    assert "no 'databricks' registry is configured" in record.last_error


def test_a_version_the_registry_does_not_have_is_skipped_not_retried(world) -> None:
    dispatcher, _, notifier = world
    record = dispatcher.submit(events.model_registered(Source.MLFLOW, "churn", "404")).record
    done = dispatcher.process(record.id)
    assert done.status is Status.DONE and done.attempts == 1
    assert done.outcome["result"] == "skipped"
    assert done.outcome["summary"] == "churn v404 does not exist in the registry"
    assert not notifier.messages


def test_a_workspace_event_reaches_the_registry_in_its_workspace_and_so_does_its_request(
    world,
) -> None:
    dispatcher, registry, _ = world
    event = events.model_registered(Source.MLFLOW, "churn", "1", workspace="team-a")
    record = dispatcher.process(dispatcher.submit(event).record.id)
    assert record.outcome["result"] == "passed"
    [emitted] = record.outcome["emitted"]
    request = dispatcher.process(emitted)
    assert request.event.workspace == "team-a"
    assert set(registry.workspaces) == {"team-a"} and len(registry.workspaces) == 2


def test_an_unreadable_holdout_is_an_error_not_the_models_failure(world) -> None:
    """A configuration problem is not a bad model: verdict error with the reason, no request;
    fixed and replayed, the same version passes and the reason is cleared."""
    dispatcher, registry, notifier = world
    holdout = dispatcher.deps.tables.frames.pop("memory://holdout")
    record = deliver(dispatcher, "churn", "1")
    assert record.status is Status.DONE and record.outcome["result"] == "error"
    assert "holdout unreadable: FileNotFoundError" in record.outcome["summary"]
    assert "not the model's" in record.outcome["summary"]
    mv = registry.get_version("churn", "1")
    assert mv.tags["mlops.validation"] == "error"
    assert mv.tags["mlops.validation.error"].startswith("holdout unreadable:")
    report = read_section(mv.description, "validation")
    assert report.startswith("### mlops-hooks validation: ⚠️ error (not the model's fault)")
    assert notifier.messages[0].verdict == "error"
    assert registry.promotions == [] and record.outcome["emitted"] == []

    dispatcher.deps.tables.frames["memory://holdout"] = holdout  # the path fixed
    dispatcher.replay(record.id)
    again = dispatcher.process(record.id)
    assert again.outcome["result"] == "passed"
    tags = registry.get_version("churn", "1").tags
    assert tags["mlops.validation"] == "passed" and tags["mlops.validation.error"] == ""


class _Evaluating(FakeModel):
    """A model whose evaluation run (as MLflow's) comes after the verdict, or fails."""

    evaluates = True

    def __init__(self, *args, registry: MemoryRegistry, fail: bool = False) -> None:
        super().__init__(*args)
        self.registry, self.fail = registry, fail
        self.seen_at_evaluation: dict[str, str] = {}

    def evaluate(self, frame, label, model_type, positive):
        from mlops_hooks.shared.ports.registry import Evaluation

        mv = self.registry.get_version("churn", "3")
        self.seen_at_evaluation = {"verdict": mv.tags.get("mlops.validation", "")}
        self.seen_at_evaluation["report"] = read_section(mv.description, "validation") or ""
        if self.fail:
            raise RuntimeError("the tracking server went away")
        return Evaluation({"roc_auc": 0.8123}, "run-7", "http://tracking/runs/run-7")


@pytest.mark.parametrize("fail", [False, True])
def test_the_evaluation_run_comes_after_the_verdict_as_a_report_update(world, fail) -> None:
    dispatcher, registry, notifier = world
    frame = churn_data.generate(2000, seed=4)
    features = frame.drop(columns=["Churn"])
    model = _Evaluating(
        churn_data.train_classifier(frame), schema_of(features), registry=registry, fail=fail
    )
    registry.add("churn", "3", model, run_id="train-3")
    record = deliver(dispatcher, "churn", "3")

    # when MLflow's evaluator ran, the verdict, the report and the message were already out
    assert model.seen_at_evaluation["verdict"] == "passed"
    source_run = "[source run](http://registry/runs/train-3)"
    assert model.seen_at_evaluation["report"].count(source_run) == 1
    assert (
        "evaluation run (metrics and plots) is linked here when written"
        in (model.seen_at_evaluation["report"])
    )
    assert (
        "scikit-learn; mlflow.models.evaluate's run follows" in (model.seen_at_evaluation["report"])
    )
    assert [m.verdict for m in notifier.messages] == ["passed"]  # one verdict, said once
    assert record.status is Status.DONE and record.outcome["result"] == "passed"
    report = read_section(registry.get_version("churn", "3").description, "validation")
    assert "linked here when written" not in report
    assert report.count(source_run) == 1  # the report written again keeps its links once
    # no lineage check in this policy: the link is the registry's one lookup of the run; the
    # model was loaded from the version as it was read, not read again
    assert registry.run_urls_asked == ["train-3"]
    assert [k.run_id if k else None for k in registry.loaded_known] == ["train-3"]
    if fail:
        assert record.outcome["data"]["evaluation_error"].startswith("RuntimeError: the tracking")
        assert "evaluation run" not in report
    else:
        assert record.outcome["data"]["evaluation_run"] == "run-7"
        assert "**mlflow.models.evaluate:** roc_auc 0.8123" in report
        assert "[evaluation run](http://tracking/runs/run-7)" in report


def test_the_source_runs_link_is_the_one_the_lineage_check_found(tmp_path: Path) -> None:
    """With the lineage check in the policy, its read of the source run gives the report's
    link: no second lookup of that run (a registry round trip) before the report is written."""
    from mlops_hooks.shared.ports.registry import Lineage

    registry = MemoryRegistry()
    registry.add("churn", "5", FakeModel(Constant("No"), None), run_id="train-5")
    registry.runs["train-5"] = Lineage(
        run_exists=True, params=2, training_datasets=1, run_url="http://lineage/train-5"
    )
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"mlflow": registry},
        policy=parse_policy(
            "models:\n  - name: churn\n    checks: {loads: {}, lineage: {}}\n", "mlops.yml"
        ),
    )
    try:
        record = deliver(dispatcher, "churn", "5")
    finally:
        ledger.close()
    assert record.outcome["data"]["checks"]["lineage"] == "passed"
    report = read_section(registry.get_version("churn", "5").description, "validation")
    assert "[source run](http://lineage/train-5)" in report
    assert registry.run_urls_asked == []
    assert [k.run_id if k else None for k in registry.loaded_known] == ["train-5"]


class SlowRegistry(MemoryRegistry):
    """Each write takes 50 ms, as a registry round trip does; when each began and ended."""

    def __init__(self, fail_report: bool = False) -> None:
        super().__init__()
        self.fail_report = fail_report
        self.spans: dict[str, tuple[float, float]] = {}

    def _slowly(self, what: str, write: Callable[[], None]) -> None:
        began = time.perf_counter()
        time.sleep(0.05)
        if what == "report" and self.fail_report:
            raise ConnectionError("registry unreachable")
        write()
        self.spans[what] = (began, time.perf_counter())

    def write_report(self, name: str, version: str, section: str, markdown: str) -> None:
        base = super().write_report
        self._slowly("report", lambda: base(name, version, section, markdown))

    def set_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        [key] = tags
        self._slowly(key, lambda: MemoryRegistry.set_tags(self, name, version, tags))


@pytest.mark.parametrize("fail_report", [False, True])
def test_the_report_and_tags_are_written_at_once_and_the_verdict_after_them(fail_report) -> None:
    registry = SlowRegistry(fail_report)
    registry.add("churn", "3", None)
    tags_in_order = {tags.VALIDATION_FAILED: "", tags.VALIDATED_AT: "T", tags.VALIDATION: "passed"}

    def write_report() -> None:
        registry.write_report("churn", "3", "validation", "### report")

    if fail_report:  # the verdict is never written without its report: a retry writes both
        with pytest.raises(ConnectionError):
            _write_verdict_last(registry, "churn", "3", tags_in_order, write_report)
        assert tags.VALIDATION not in registry.get_version("churn", "3").tags
        return
    _write_verdict_last(registry, "churn", "3", tags_in_order, write_report)
    assert registry.get_version("churn", "3").tags == tags_in_order
    assert read_section(registry.get_version("churn", "3").description, "validation")
    before = [registry.spans[k] for k in ("report", tags.VALIDATION_FAILED, tags.VALIDATED_AT)]
    verdict_began, _ = registry.spans[tags.VALIDATION]
    assert verdict_began >= max(end for _, end in before)  # the verdict after all of them
    assert max(b for b, _ in before) < min(end for _, end in before)  # and they overlapped
