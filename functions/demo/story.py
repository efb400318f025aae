"""The reference MLOps story (the Databricks telco-churn demo) played on the embedded stack:

land data -> train v1 -> validated -> champion; batch inference; drifted data -> drift check ->
retrain v2 -> validated -> compared with v1 -> promoted or rejected, with reasons; a v3 in manual
mode approved by a (simulated, correctly signed) reviewer click. Then live models: the
customers stay the same but what they do changes (a concept shift, no data drift); the labels
that land show v3's live roc_auc below its floor -> performance_degraded -> retrain v4 -> v4
passes the holdout and runs in shadow beside v3 -> the next labels promote it on live evidence.

Every step says what it expects and checks that it happened; the first one that does not is
the demo's failure, by name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mlops_hooks.functions.demo.stack import BUCKET, REVIEWER, Stack
from mlops_hooks.shared.domain import tags
from mlops_hooks.shared.domain.errors import MlopsHooksError

MODEL = "churn"
POLICY = """\
version: 1
models:
  - name: churn
    checks:
      loads: {}
      signature: {}
      input_example: {}
      predictions: {}
      lineage: {}
      metrics: {thresholds: {roc_auc: {min: 0.7}}, evaluator: builtin}
      slices: {columns: [Contract], metric: roc_auc, min: 0.5}  # no contract type worse than chance
    holdout: {uri: "TABLES/churn/holdout", label: Churn, positive_label: "Yes"}
    comparison:
      {metric: roc_auc, min_improvement: 0.0, resamples: 500, guardrails: {accuracy: 0.05}}
    promotion: {mode: MODE, reviewers: [REVIEWER]}
    data:
      id_columns: [customerID]
      watch: [{bucket: BUCKET, prefix: landing/}]
LABELS      contract:
        required_columns: {customerID: string, tenure: integer, Contract: string, Churn: string}
        min_rows: 100
        max_null_fraction: 0.05
    drift: {cooldown_hours: COOLDOWN}
LIVE    jobs:
      train: {params: {data: "s3://BUCKET/training/current.csv"}}
      batch_inference: {params: {input: "s3://BUCKET/score/customers.csv"}}
"""
# the live chapter: v4 in shadow beside the champion, labels under labels/, the champion's
# live roc_auc held to a floor
LIVE = """\
    deployment: {mode: shadow, challengers: [challenger], evidence_rows: 2000}
    live: {floor: 0.65, violations: 2, window: 3, min_labelled_rows: 500}
"""
LABELS = """\
      labels: {bucket: BUCKET, prefix: labels/, id_column: customerID, label_column: Churn}
"""


def interval_of(outcome: dict[str, Any]) -> str:
    """A comparison's primary improvement and its interval, as the steps say them."""
    delta, (low, high) = outcome["data"]["delta"], outcome["data"]["interval"]
    return f"roc_auc {delta:+.4f} [{low:+.4f}, {high:+.4f}]"


def as_tags(listed: list[dict[str, str]] | None) -> dict[str, str]:
    """MLflow's REST tags ([{key, value}]) as a dict."""
    return {t["key"]: t.get("value", "") for t in listed or []}


@dataclass(frozen=True)
class ModelVersion:
    """What the demo reads of a registered version."""

    version: str
    run_id: str
    tags: dict[str, str]

    @classmethod
    def of(cls, found: dict[str, Any]) -> ModelVersion:
        return cls(found["version"], found.get("run_id", ""), as_tags(found.get("tags")))


class StepFailed(MlopsHooksError):
    """A step did not happen as expected; the message names it and says what was seen."""


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Story:
    stack: Stack
    rows: int
    data: Path | None = None  # a real Telco-like CSV instead of generated data
    say: Callable[[str], None] = print
    steps: list[Step] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    _ledger: Any = None
    _http: Any = None
    _details: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    # --- plumbing ------------------------------------------------------------------------

    def policy(self, mode: str, *, live: bool = False) -> Path:
        path = self.stack.folder / "mlops.yml"
        text = POLICY.replace("LIVE", LIVE if live else "").replace(
            "LABELS", LABELS if live else ""
        )
        # the demo's days pass in minutes: a day's cooldown after v2's retraining would hold
        # the live chapter's retraining too
        text = text.replace("COOLDOWN", "0" if live else "24")
        text = text.replace("TABLES", str(self.stack.tables)).replace("BUCKET", BUCKET)
        path.write_text(text.replace("MODE", mode).replace("REVIEWER", REVIEWER))
        return path

    def edit_policy(self, mode: str, *, live: bool = False) -> None:
        """Edit the policy file in place, as a user would: the running serve follows the edit
        (no restart); wait until its /healthz shows the new policy in force."""
        from mlops_hooks.shared.domain.policy import text_digest

        digest = text_digest(self.policy(mode, live=live).read_text())
        self.wait(
            f"serve to follow the policy edit ({mode})",
            lambda: self.api("/healthz").get("policy") == digest,
            30,
        )

    def step(self, name: str, action: Callable[[], str]) -> None:
        self.say(f"[bold]▶ {name}[/]")
        started = time.monotonic()
        try:
            detail = action()
        except StepFailed:
            raise
        except Exception as exc:
            raise StepFailed(f"{name}: {type(exc).__name__}: {exc}") from exc
        self.steps.append(Step(name, time.monotonic() - started, detail))
        self.say(f"  [green]✔[/] {detail}  [dim]({self.steps[-1].seconds:.0f} s)[/]")

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float) -> Any:
        from mlops_hooks.functions.demo.processes import wait_for

        return wait_for(predicate, timeout, what, interval=0.2, error=StepFailed)

    def client(self) -> Any:
        """MLflow's client, for the report written after the play (and its measured peak)."""
        from mlflow import MlflowClient

        assert self.stack.mlflow is not None
        return MlflowClient(tracking_uri=self.stack.mlflow.url)

    def mlflow_get(self, path: str, **params: str) -> dict[str, Any] | None:
        """One read of MLflow's REST API; None when it has no such thing (404).

        Why not MlflowClient: the demo only reads a version's tags, an alias and a run's tags,
        and importing mlflow would add ~60 MB to the peak memory the demo reports."""
        assert self.stack.mlflow is not None
        response = self.http().get(f"{self.stack.mlflow.url}/api/2.0/mlflow/{path}", params=params)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def http(self) -> httpx.Client:
        """One client for all the polling: ``httpx.get`` builds a client, and with it an SSL
        context, for every call (~36 ms of CPU against ~8 through one client); the demo polls
        every 0.2 s while the jobs it waits for share the same cores."""
        if self._http is None:
            self._http = httpx.Client(timeout=10)
        return self._http

    def api(self, path: str, **params: Any) -> Any:
        assert self.stack.serve is not None
        return self.http().get(f"{self.stack.serve.url}{path}", params=params).json()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Recorded events (of one kind), each with its outcome, from `serve`'s read API. An
        event's detail is asked again only when its line in the listing changed."""
        listed = self.api("/events", limit=1000, **({"kind": kind} if kind else {}))
        details = []
        for line in listed:
            seen = json.dumps(line, sort_keys=True)
            cached = self._details.get(line["id"])
            if cached is None or cached[0] != seen:
                cached = self._details[line["id"]] = (seen, self.api(f"/events/{line['id']}"))
            details.append(cached[1])
        return details

    def put(self, key: str, text: str) -> None:
        import boto3

        boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=text.encode())

    def tick(self, task: str, at: str) -> None:
        """What an EventBridge schedule delivers to the queue (the scheduler does it in serve)."""
        import boto3

        body = {"task": task, "model": MODEL, "rule": f"demo-{task}", "time": at}
        boto3.client("sqs").send_message(
            QueueUrl=self.stack.queue_url, MessageBody=json.dumps(body)
        )

    def version(self, number: int) -> ModelVersion | None:
        found = self.mlflow_get("model-versions/get", name=MODEL, version=str(number))
        return ModelVersion.of(found["model_version"]) if found else None

    def champion(self) -> str | None:
        found = self.mlflow_get("registered-models/alias", name=MODEL, alias="champion")
        return found["model_version"]["version"] if found else None

    def validated(self, number: int) -> str:
        verdict = self.wait(
            f"v{number}'s validation verdict",
            lambda: (self.version(number).tags or {}).get(tags.VALIDATION),
            120,
        )
        if verdict != "passed":
            failed = self.version(number).tags.get(tags.VALIDATION_FAILED)
            raise StepFailed(f"v{number} failed validation ({failed})")
        return verdict

    def promotion_of(self, number: int) -> dict[str, Any]:
        return self.handled(
            f"v{number}'s promotion decision",
            "promotion_requested",
            lambda e: e["event"]["model"] == MODEL and e["event"]["version"] == str(number),
            120,
        )

    def frame(self, seed: int, shift: float = 0.0) -> Any:
        from mlops_hooks.shared.domain import churn_data

        if self.data is not None:
            full = churn_data.load(self.data)
            return full.sample(n=min(self.rows, len(full)), random_state=seed)
        return churn_data.generate(self.rows, seed=seed, shift=shift)

    def shifted(self, frame: Any, seed: int) -> Any:
        """The drift: shorter tenure, higher charges (the generator's knob, or applied to a
        real file the same way)."""
        from mlops_hooks.shared.domain import churn_data

        if self.data is None:
            return churn_data.generate(self.rows, seed=seed, shift=1.0)
        out = frame.copy()
        out["tenure"] = (out["tenure"] * 0.5).round().astype(int)
        out["MonthlyCharges"] = out["MonthlyCharges"] + 15
        out["TotalCharges"] = (out["MonthlyCharges"] * out["tenure"]).round(2)
        return out

    # --- the story -------------------------------------------------------------------------

    def play(self) -> None:
        from mlops_hooks.shared.domain.churn_data import to_telco_csv

        stack = self.stack
        self.step("start the stack", self._start)

        def land_v1() -> str:
            first = self.frame(seed=1)
            self.put("training/current.csv", to_telco_csv(first))
            self.put("landing/2026-11-01.csv", to_telco_csv(first))
            self.wait("v1 registered by the train job", lambda: self.version(1), 240)
            return f"{len(first):,} rows landed in s3://{BUCKET}/landing/ -> train -> v1"

        self.step("land data, train v1", land_v1)
        self.step("validate v1", lambda: f"v1 {self.validated(1)} every check")

        def champion_v1() -> str:
            record = self.promotion_of(1)
            self.wait("v1 as champion", lambda: self.champion() == "1", 30)
            return f"v1 is champion: {record['outcome']['summary']}"

        self.step("promote v1 (no champion yet)", champion_v1)

        def score(at: str) -> Callable[[], str]:
            return lambda: self.scored(at)

        self.put("score/customers.csv", to_telco_csv(self.frame(seed=2)))
        self.step("batch inference with the champion", score("2026-11-02T02:00:00Z"))

        def drift() -> str:
            drifted = self.shifted(self.frame(seed=3), seed=3)
            self.put("score/customers.csv", to_telco_csv(drifted))
            self.put("training/current.csv", to_telco_csv(self.shifted(self.frame(seed=4), 4)))
            score("2026-11-03T02:00:00Z")()
            self.tick("drift_check", "2026-11-03T03:00:00Z")
            check = self.wait(
                "the drift check",
                lambda: next(
                    (
                        e
                        for e in self.events("scheduled")
                        if e["event"]["task"] == "drift_check" and e["status"] == "done"
                    ),
                    None,
                ),
                180,
            )
            result = check["outcome"]
            if result["result"] != "drifted":
                raise StepFailed(f"drift check: {result['summary']}")
            self.facts["drifted"] = result["data"]["drifted"]
            return f"{result['summary']} -> drift_detected"

        self.step("drifted data, drift check", drift)

        def retrain() -> str:
            alarm = self.wait(
                "drift_detected to launch a retraining",
                lambda: next(
                    (e for e in self.events("drift_detected") if e["status"] == "done"), None
                ),
                60,
            )
            if alarm["outcome"]["result"] != "launched":
                raise StepFailed(f"drift_detected: {alarm['outcome']['summary']}")
            v2 = self.wait("v2 registered by the retraining", lambda: self.version(2), 240)
            run = self.mlflow_get("runs/get", run_id=v2.run_id)
            run_tags = as_tags(run["run"]["data"].get("tags")) if run else {}
            reason = run_tags.get(tags.TRIGGER_REASON)
            features = run_tags.get(tags.DRIFT_FEATURES)
            return f"v2 trained (reason {reason}, drift in {features})"

        self.step("retrain v2 on the drift", retrain)
        self.step("validate v2", lambda: f"v2 {self.validated(2)} every check")

        def compare_v2() -> str:
            outcome = self.judged(2, 1, self.promotion_of(2)["outcome"])
            return (
                f"{outcome['result']} v2: {interval_of(outcome)}; "
                f"{'; '.join(outcome['data']['reasons'])}"
            )

        self.step("compare v2 with v1 (paired bootstrap)", compare_v2)

        def manual_v3() -> str:
            self.edit_policy("manual")
            third = self.shifted(self.frame(seed=5), seed=5)
            self.put("training/current.csv", to_telco_csv(third))
            self.put("landing/2026-11-04.csv", to_telco_csv(third))
            self.wait("v3 registered", lambda: self.version(3), 240)
            self.validated(3)
            request = self.wait(
                "the approval request on Slack",
                lambda: next(
                    (
                        m
                        for m in stack.sink.messages()
                        if "Approve promotion? churn v3" in m["text"]
                    ),
                    None,
                ),
                120,
            )
            return self._click(request)

        self.step("v3 in manual mode: a reviewer approves on Slack", manual_v3)
        self.live_chapter()

    def judged(self, number: int, previous: int, outcome: dict[str, Any]) -> dict[str, Any]:
        """A promote or reject of v``number`` in force: the champion moved to it, or stayed
        v``previous``."""
        if outcome["result"] not in ("promote", "reject"):
            raise StepFailed(f"v{number}'s promotion: {outcome['summary']}")
        expected = str(number if outcome["result"] == "promote" else previous)
        self.wait(f"champion v{expected}", lambda: self.champion() == expected, 30)
        self.facts[f"v{number}"] = outcome
        return outcome

    def scored(self, at: str) -> str:
        """A batch inference tick at ``at`` (its day is the score date), and its run's result."""
        before = len(self._runs("batch_inference"))
        self.tick("batch_inference", at)
        self.wait(
            "the batch inference run",
            lambda: len(self._finished("batch_inference")) > before,
            180,
        )
        last = self._finished("batch_inference")[0]
        if last["state"] != "success":
            raise StepFailed(f"batch inference run {last['run_id']}: {last['message']}")
        result = last["result"]
        shadows = [v for v in result.get("versions", []) if v != result["version"]]
        beside = f" (v{', v'.join(shadows)} in shadow beside it)" if shadows else ""
        return (
            f"{result['rows']:,} customers scored by v{result['version']}{beside} "
            f"into {Path(result['output']).name} (Delta)"
        )

    # --- live models ------------------------------------------------------------------------

    def customers(self, seed: int, *, concept: bool) -> Any:
        """The customers of the live chapter: the same kind v3 was trained on (no data drift);
        ``concept``: what they do has changed (the generator's knob; on a real file, the
        outcomes reversed)."""
        from mlops_hooks.shared.domain import churn_data

        if self.data is None:
            changed = 1.0 if concept else 0.0
            return churn_data.generate(self.rows, seed=seed, shift=1.0, concept=changed)
        out = self.shifted(self.frame(seed=seed), seed)
        if concept:
            out["Churn"] = out["Churn"].map({"Yes": "No", "No": "Yes"})
        return out

    def score_days(self, days: list[str], seed: int) -> list[Any]:
        """Score the customers of each day; their outcomes (known later) are returned."""
        from mlops_hooks.shared.domain.churn_data import to_telco_csv

        outcomes = []
        for n, day in enumerate(days):
            frame = self.customers(seed + n, concept=True)
            self.put("score/customers.csv", to_telco_csv(frame.drop(columns=["Churn"])))
            self.facts.setdefault("scored", []).append(self.scored(f"{day}T02:00:00Z"))
            outcomes.append(frame[["customerID", "Churn"]].assign(score_date=day))
        return outcomes

    def land_labels(self, key: str, outcomes: list[Any]) -> dict[str, Any]:
        """The outcomes land under labels/; the labels_landed event's record once handled."""
        import pandas as pd

        self.put(key, pd.concat(outcomes, ignore_index=True).to_csv(index=False))
        uri = f"s3://{BUCKET}/{key}"
        return self.handled(
            f"the labels in {uri} joined",
            "labels_landed",
            lambda e: e["event"]["object_key"] == key,
            120,
        )

    def handled(
        self, what: str, kind: str, match: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        """Wait for the event of ``kind`` that ``match``es to be done (dead: the step fails)."""

        def done() -> dict[str, Any] | None:
            for record in self.events(kind):
                if not match(record):
                    continue
                if record["status"] == "dead":
                    raise StepFailed(f"{kind}: {record['last_error']}")
                if record["status"] == "done":
                    return record
            return None

        return self.wait(what, done, timeout)

    def live_chapter(self) -> None:
        from mlops_hooks.shared.domain.churn_data import to_telco_csv

        first, later = ["2026-11-05", "2026-11-06"], ["2026-11-07", "2026-11-08"]

        def concept_shift() -> str:
            self.edit_policy("auto", live=True)
            self.facts["first_outcomes"] = self.score_days(first, seed=21)
            self.tick("drift_check", f"{first[-1]}T03:00:00Z")
            check = self.handled(
                "the drift check",
                "scheduled",
                lambda e: (
                    e["event"]["task"] == "drift_check"
                    and e["event"]["occurred_at"].startswith(first[-1])
                ),
                180,
            )
            if check["outcome"]["result"] != "no_drift":
                raise StepFailed(f"expected no data drift: {check['outcome']['summary']}")
            return f"v3 scored {', '.join(first)}; drift check: {check['outcome']['summary']}"

        self.step("same customers, two scoring days: no data drift", concept_shift)

        def degraded() -> str:
            # the outcomes, with their inputs, are what the retraining learns from
            self.put("training/current.csv", to_telco_csv(self.customers(29, concept=True)))
            joined = self.land_labels(f"labels/{first[-1]}.csv", self.facts["first_outcomes"])
            alarm = self.handled(
                "performance_degraded to launch a retraining",
                "performance_degraded",
                lambda e: True,
                60,
            )
            if alarm["outcome"]["result"] != "launched":
                raise StepFailed(f"performance_degraded: {alarm['outcome']['summary']}")
            self.wait("v4 registered by the retraining", lambda: self.version(4), 240)
            counts = joined["outcome"]["data"]["models"][0]["counts"]
            return (
                f"{counts['labelled']:,} labels joined; {alarm['event']['reason']} -> "
                f"performance_degraded -> v4 trained (no data drift: a concept shift)"
            )

        self.step("labels land: live roc_auc under its floor, retrain v4", degraded)

        def on_trial() -> str:
            self.validated(4)
            record = self.promotion_of(4)
            outcome = record["outcome"]
            if outcome["result"] != "live_trial":
                raise StepFailed(f"expected v4 on live trial: {outcome['summary']}")
            return (
                f"v4 passed every check; on the holdout {interval_of(outcome)} -> challenger, "
                "scored in shadow"
            )

        self.step("v4 validated and on live trial", on_trial)

        def shadow() -> str:
            self.facts["later_outcomes"] = self.score_days(later, seed=31)
            return f"{', '.join(later)}: {self.facts['scored'][-1]}"

        self.step("v4 in shadow beside v3 for two days", shadow)

        def promoted_live() -> str:
            self.land_labels(f"labels/{later[-1]}.csv", self.facts["later_outcomes"])
            record = self.handled(
                "v4's promotion on live evidence",
                "promotion_requested",
                lambda e: (
                    e["event"]["version"] == "4" and e["event"]["payload"].get("evidence") == "live"
                ),
                120,
            )
            outcome = self.judged(4, 3, record["outcome"])
            alarms = self.events("performance_degraded")
            held = [a["outcome"]["summary"] for a in alarms if a["outcome"]["result"] == "skipped"]
            return (
                f"{outcome['result']} v4 on live data: {interval_of(outcome)} (paired "
                f"bootstrap on the rows both scored); {'; '.join(outcome['data']['reasons'])}"
                + (f"; v3's next alarm retrains nothing ({held[0]})" if held else "")
            )

        self.step("labels land: v4 promoted on live evidence", promoted_live)

    def _start(self) -> str:
        self.stack.start_services()
        self.stack.start_serve(self.policy("auto"))
        assert self.stack.mlflow is not None and self.stack.serve is not None
        return f"MLflow {self.stack.mlflow.url}, serve {self.stack.serve.url}, moto, Slack sink"

    def _click(self, request: dict[str, Any]) -> str:
        """The reviewer's Approve, signed with the app's signing secret, as Slack sends it."""
        from mlops_hooks.functions.demo.slack import click_body, signed_headers

        stack = self.stack
        assert stack.serve is not None
        [buttons] = [b for b in request["blocks"] if b.get("block_id") == "mlops_approval"]
        body = click_body(
            buttons["elements"][0]["value"],
            REVIEWER,
            action_ts=f"{time.time():.6f}",
            response_url=f"{stack.sink.url}/response/demo",
            blocks=request["blocks"],
        )
        answer = self.http().post(
            f"{stack.serve.url}/slack/actions",
            content=body,
            headers=signed_headers(stack.signing_secret, body),
        )
        if answer.status_code != 200:
            raise StepFailed(f"Slack click answered {answer.status_code}: {answer.text}")
        self.wait("v3 as champion", lambda: self.champion() == "3", 60)
        update = self.wait(
            "the Slack message update",
            lambda: next((a for a in stack.sink.answers() if not a.get("response_type")), None),
            30,
        )
        return f"approved by <@{REVIEWER}>: v3 is champion; Slack says: {update['text']}"

    def _runs(self, job: str) -> list[dict[str, Any]]:
        """The job runs `serve` launched (its ledger, read beside it), newest first."""
        if self._ledger is None:  # one connection for all the polling
            from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger

            self._ledger = SqliteLedger(self.stack.state / "ledger.db")
        return [r.model_dump(mode="json") for r in self._ledger.list_runs() if r.job == job]

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def _finished(self, job: str) -> list[dict[str, Any]]:
        return [r for r in self._runs(job) if r["ended_at"]]
