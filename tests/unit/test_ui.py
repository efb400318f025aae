"""The /ui pages over port fakes (a real dispatcher and SQLite ledger, a memory registry):
what each page shows, who may read and act, and that data is shown as data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlops_hooks.functions.app import create_app
from mlops_hooks.functions.runtime import Runtime
from mlops_hooks.shared.adapters.table_reader import TableReader
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import Source
from mlops_hooks.shared.settings import Settings
from tests.support.fakes import FakeModel, MemoryRegistry, dispatcher_over

TOKEN = "ui-test-token"
REPORT = """| check | status |
|---|---|
| loads | ✅ passed |
| metrics | ❌ failed |

<script>alert("x")</script>
"""


@pytest.fixture
def ui(tmp_path: Path):
    registry = MemoryRegistry()
    registry.add("churn", "1", FakeModel(None), run_id="r1")
    registry.add("churn", "2", FakeModel(None), run_id="r2")
    registry.set_alias("churn", "champion", "1")
    registry.write_report("churn", "2", "approval", REPORT)  # a section validation leaves be
    dispatcher, ledger = dispatcher_over(
        tmp_path,
        registries={"mlflow": registry},
        tables=TableReader(),
        settings=Settings(state_dir=tmp_path, api_token=TOKEN, max_attempts=1),
    )

    def client(public: bool = False) -> TestClient:
        return TestClient(create_app(Runtime(dispatcher.deps.settings, dispatcher, public=public)))

    yield dispatcher, registry, client
    ledger.close()


def _dead_event(dispatcher):
    """A scheduled task nobody knows: dead at once (a permanent error)."""
    bad = events.scheduled("x", events.utcnow(), "no_such_task", model="churn")
    record = dispatcher.submit(bad).record
    return dispatcher.process(record.id)


def test_the_pages_show_the_registrys_champion_and_render_reports_as_tables(ui) -> None:
    dispatcher, _, client = ui
    registered = events.model_registered(Source.MLFLOW, "churn", "2")
    dispatcher.process(dispatcher.submit(registered).record.id)
    page = client().get("/ui")
    assert page.status_code == 200, page.text
    assert re.search(r'href="/ui/models/churn">churn</a></th>\s*<td>v1</td>', page.text)
    model = client().get("/ui/models/churn")
    assert model.status_code == 200
    assert "<table>" in model.text and "<th>check</th>" in model.text
    assert '<svg class="mark ok"' in model.text and "✅" not in model.text
    assert "<script>" not in model.text and "&lt;script&gt;" in model.text  # data as data
    assert client().get("/ui/models/nobody").status_code == 404


def test_the_events_page_filters_and_rejects_bad_filters_in_one_line(ui) -> None:
    dispatcher, _, client = ui
    dead = _dead_event(dispatcher)
    assert dead.status.value == "dead"
    listed = client().get("/ui/events", params={"status": "dead"})
    assert dead.id in listed.text
    assert dead.id not in client().get("/ui/events", params={"status": "done"}).text
    bad = client().get("/ui/events", params={"status": "sleeping"})
    assert bad.status_code == 400 and bad.json() == {"error": "status: no status 'sleeping'"}
    assert client().get("/ui/events", params={"since": "yesterday"}).status_code == 400


def test_a_response_url_is_never_rendered(ui) -> None:
    dispatcher, _, client = ui
    click = events.approval(
        "ev_x:U1:1.1",
        payload={
            "request_id": "ev_x",
            "decision": "approve",
            "user_id": "U1",
            "response_url": "https://hooks.slack.com/actions/T1/secret",
        },
    )
    record = dispatcher.submit(click).record
    page = client().get(f"/ui/events/{record.id}")
    assert page.status_code == 200
    assert "hooks.slack.com" not in page.text and "(hidden)" in page.text


def test_reading_needs_the_token_off_loopback_and_acting_needs_token_and_csrf(ui) -> None:
    dispatcher, _, client = ui
    dead = _dead_event(dispatcher)
    public = client(public=True)
    assert public.get("/ui").status_code == 401
    assert public.get(f"/ui/events/{dead.id}").status_code == 401
    assert client().get("/ui").status_code == 200  # loopback: this machine's users
    # acting: no session, then a session without the form's CSRF token
    replay = f"/ui/events/{dead.id}/replay"
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert public.post(replay, content="csrf=x", headers=form).status_code == 401
    wrong = public.post("/ui/login", content="token=wrong&name=ann", headers=form)
    assert wrong.status_code == 401
    signed_in = public.post(
        "/ui/login", content=f"token={TOKEN}&name=ann", headers=form, follow_redirects=False
    )
    assert signed_in.status_code == 303
    cookie = signed_in.cookies.get("mlops_hooks_ui")
    assert cookie and TOKEN not in cookie
    assert public.get("/ui").status_code == 200
    assert public.post(replay, content="csrf=forged", headers=form).status_code == 403
    page = public.get(f"/ui/events/{dead.id}")
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    done = public.post(replay, content=f"csrf={csrf}", headers=form, follow_redirects=False)
    assert done.status_code == 303
    action_id = done.headers["location"].split("replayed=")[1]
    action = dispatcher.ledger.get(action_id)
    assert action.source == "ui" and action.event.payload["user"] == "ann"
    assert action.event.payload["arguments"] == {"event_id": dead.id}


def test_the_charts_specs_are_data_in_the_page(ui, tmp_path: Path) -> None:
    """The drift table's values (a hostile feature name included) reach the page as JSON
    that cannot end its script block; Vega-Lite's scripts come from serve itself."""
    import json

    import pandas as pd
    from deltalake import write_deltalake

    dispatcher, _, client = ui
    dispatcher.process(
        dispatcher.submit(events.model_registered(Source.MLFLOW, "churn", "2")).record.id
    )
    hostile = "</script><script>alert(1)</script>"
    write_deltalake(
        str(tmp_path / "tables" / "churn" / "monitoring"),
        pd.DataFrame(
            {
                "feature": ["tenure", hostile],
                "psi": [0.3, 0.01],
                "status": ["drift", "ok"],
                "checked_at": pd.Timestamp("2026-11-21T03:00Z"),
            }
        ),
    )
    page = client().get("/ui/models/churn").text
    assert "<script>alert(1)" not in page
    block = re.search(r'<script type="application/json" id="spec-drift">(.*?)</script>', page)
    spec = json.loads(block.group(1))
    assert {v["feature"] for v in spec["data"]["values"]} == {"tenure", hostile}
    assert [r["data"]["values"] for r in spec["layer"][1:]] == [
        [{"psi": 0.1, "rule": "warn"}, {"psi": 0.25, "rule": "drift"}]
    ]
    assert "No live performance yet (no labels joined)" in page
    for script in re.findall(r'<script src="(/ui/static/[^"]+)"', page):
        served = client().get(script)
        assert served.status_code == 200 and served.headers["content-type"].startswith(
            "text/javascript"
        )
    assert client().get("/ui/static/../routes.py").status_code == 404


def test_a_models_job_runs_show_their_state_and_the_tail_of_their_log(ui, tmp_path) -> None:
    from mlops_hooks.shared.ports.ledger import JobRun, RunState

    dispatcher, _, client = ui
    dispatcher.process(
        dispatcher.submit(events.model_registered(Source.MLFLOW, "churn", "2")).record.id
    )
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 101)) + "<b>Traceback</b>\n")
    dispatcher.ledger.save_run(
        JobRun(
            run_id="local-7",
            job="train",
            backend="local",
            state=RunState.FAILED,
            params={"model": "churn"},
            started_at=1_764_800_000.0,
            log_path=str(log),
            message="exit code 1",
        )
    )
    page = client().get("/ui/models/churn").text
    assert "local-7" in page and "exit code 1" in page and "2025-12-03T22:13:20+00:00" in page
    tail = re.search(r"<pre>(.*?)</pre>", page[page.index("local-7") :], re.DOTALL).group(1)
    assert tail.splitlines() == [f"line {n}" for n in range(82, 101)] + [
        "&lt;b&gt;Traceback&lt;/b&gt;"
    ]


def test_a_drift_alarms_histograms_are_shown_from_the_registry(ui) -> None:
    dispatcher, _, client = ui
    dispatcher.process(
        dispatcher.submit(events.model_registered(Source.MLFLOW, "churn", "2")).record.id
    )
    alarm = events.drift_detected("churn", "2026-11-21", payload={})
    recorded = dispatcher.submit(alarm).record
    token = "t"
    ledger = dispatcher.ledger
    ledger.claim(
        recorded.id, worker="w", token=token, now=recorded.received_at.timestamp(), lease_seconds=60
    )
    url = "http://mlflow.local/get-artifact?path=mlops-hooks/drift/drift-1.png&run_uuid=r1"
    ledger.complete(
        recorded.id,
        token=token,
        outcome={"result": "launched", "summary": "s", "data": {"histograms": url}},
        now=recorded.received_at.timestamp() + 1,
    )
    page = client().get("/ui/models/churn").text
    assert (
        '<img src="http://mlflow.local/get-artifact?path=mlops-hooks/drift/drift-1.png&amp;run_uuid=r1"'
        in page
    )


def test_the_models_page_says_the_live_status_from_the_newest_labels_or_alarm() -> None:
    """A labels_landed event names its models in its outcome (it carries none itself); a
    newer performance_degraded of the model wins."""
    from datetime import UTC, datetime

    from mlops_hooks.functions.ui.views import model_rows
    from mlops_hooks.shared.ports.ledger import EventRecord, Status

    def record(event, outcome, minute):
        at = datetime(2026, 11, 24, 6, minute, tzinfo=UTC)
        return EventRecord(
            id=event.id,
            key=event.key,
            kind=event.kind,
            source=event.source,
            model=event.model,
            version=event.version,
            status=Status.DONE,
            received_at=at,
            updated_at=at,
            outcome=outcome,
            event=event,
        )

    labels = record(
        events.labels_landed("b", "churn/a.csv", "e1"),
        {"result": "joined", "data": {"models": [{"model": "churn", "summary": "1,000 joined"}]}},
        1,
    )
    alarm = record(
        events.performance_degraded("churn", "2026-11-23", reason="roc_auc under 0.65"),
        {"result": "launched"},
        2,
    )
    assert model_rows([labels])["churn"]["live"] == {
        "result": "measured",
        "summary": "1,000 joined",
    }
    newest_first = model_rows([alarm, labels])["churn"]["live"]
    assert newest_first == {"result": "degraded", "summary": "roc_auc under 0.65"}
