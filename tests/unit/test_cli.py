"""The CLI in-process (typer's runner) over a real SQLite ledger in a temp state dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mlops_hooks.functions import cli
from mlops_hooks.functions.cli import app
from mlops_hooks.shared.adapters.ledger_sqlite import SqliteLedger
from mlops_hooks.shared.domain import events
from mlops_hooks.shared.domain.events import Source

runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_HOOKS_STATE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    ledger = SqliteLedger(tmp_path / "ledger.db")
    ledger.record(events.model_registered(Source.MLFLOW, "churn", "1"), now=1.8e9)
    ledger.record(events.data_landed("b", "landing/x.csv", "s"), now=1.8e9 + 1)
    ledger.close()
    return tmp_path


def test_events_list_json_has_the_documented_fields(state: Path) -> None:
    result = runner.invoke(app, ["events", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["kind"] for r in rows] == ["data_landed", "model_registered"]
    assert {"id", "key", "kind", "status", "attempts", "model", "version"} <= set(rows[0])
    only = json.loads(
        runner.invoke(app, ["events", "list", "--kind", "model_registered", "--json"]).output
    )
    assert [r["model"] for r in only] == ["churn"]


def test_events_show_and_table_output(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = json.loads(runner.invoke(app, ["events", "list", "--json"]).output)
    shown = runner.invoke(app, ["events", "show", rows[1]["id"], "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["event"]["version"] == "1"
    table = runner.invoke(app, ["events", "show", rows[1]["id"]])
    assert "model_registered:mlflow:churn:1" in table.output
    monkeypatch.setattr(cli, "out", Console(width=80))
    narrow = runner.invoke(app, ["events", "list"]).output
    assert rows[0]["id"] in narrow and rows[1]["id"] in narrow  # never cut, even at 80 cols
    monkeypatch.setattr(cli, "out", Console(width=140))
    assert "churn v1" in runner.invoke(app, ["events", "list"]).output


def test_tables_at_80_columns_stack_and_wrap_never_cut(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = SqliteLedger(state / "ledger.db")
    name = "churn-propensity-" + "x" * 40
    record = ledger.record(events.model_registered(Source.MLFLOW, name, "12"), now=1.8e9 + 2)
    ledger.claim(record.record.id, worker="w", token="t", now=1.8e9 + 3, lease_seconds=60)
    error = "RegistryError: the MLflow server at http://127.0.0.1:5000: connection refused " * 2
    ledger.fail(record.record.id, token="t", error=error.strip(), retry_at=None, now=1.8e9 + 4)
    ledger.close()
    monkeypatch.setattr(cli, "out", Console(width=80))
    narrow = runner.invoke(app, ["events", "list"]).output
    lines = narrow.splitlines()
    assert max(len(line) for line in lines) <= 80, narrow
    assert "…" not in narrow
    [head] = [line for line in lines if line.startswith(record.record.id)]
    assert head.split()[1:3] == ["model_registered", "dead"]  # id, kind, status: whole
    said = " ".join(line.strip() for line in lines)
    assert f"model: {name} v12" in said and error.strip() in said  # wrapped, all there
    wide = runner.invoke(app, ["events", "list", "--wide"]).output.splitlines()
    [row] = [line for line in wide if line.startswith(record.record.id)]
    assert row.endswith(error.strip()) and f"{name} v12" in row  # one line per event


@pytest.mark.parametrize(
    "command", [["events", "show", "ev_nope"], ["events", "replay", "ev_nope"]]
)
def test_unknown_event_ids_fail_in_one_line(state: Path, command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert result.output.strip() == "error: no event with id ev_nope"


def test_replay_run_executes_here(state: Path) -> None:
    rows = json.loads(runner.invoke(app, ["events", "list", "--json"]).output)
    result = runner.invoke(app, ["events", "replay", rows[0]["id"], "--run"])
    assert result.exit_code == 0, result.output
    assert f"{rows[0]['id']}: done" in result.output


def test_bad_settings_fail_in_one_line(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOOKS_LEDGER_URL", "postgres://nope")
    result = runner.invoke(app, ["events", "list"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: MLOPS_HOOKS_LEDGER_URL: Value error, must start with sqlite:/// or dynamodb://"
    )


def test_bad_handler_module_stops_serve(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOOKS_MLFLOW_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("MLOPS_HOOKS_HANDLER_MODULES", "no.such.module:HANDLERS")
    result = runner.invoke(app, ["serve", "--port", "0"])
    assert result.exit_code == 2
    assert "handler module 'no.such.module:HANDLERS'" in result.output


def test_data_is_printed_as_data_never_as_markup_or_escapes(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tag value "[/]" (rich's closing tag), the legal name "churn[v2]" and an escape
    sequence in a model name: printed as they are, the escape shown, not sent."""
    from mlops_hooks.functions.wiring import build_dispatcher
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import Source
    from mlops_hooks.shared.settings import Settings

    dispatcher = build_dispatcher(Settings(state_dir=state))
    names = ["churn[v2]", "evil\x1b[31mred", "[bold]x[/]"]
    ids = [
        dispatcher.submit(
            events.model_registered(Source.MLFLOW, n, "1", payload={"tags": {"t": "[/]"}})
        ).record.id
        for n in names
    ]
    dispatcher.ledger.close()
    monkeypatch.setattr(cli, "out", Console(width=200))
    listed = runner.invoke(app, ["events", "list"])
    assert listed.exit_code == 0, listed.output
    assert "churn[v2] v1" in listed.output and "[bold]x[/] v1" in listed.output
    assert "\x1b" not in listed.output and "evil\\x1b[31mred" in listed.output
    for event_id in ids:
        shown = runner.invoke(app, ["events", "show", event_id])
        assert shown.exit_code == 0, shown.output
        assert "\x1b" not in shown.output
    assert (
        "key: model_registered:mlflow:churn[v2]:1"
        in runner.invoke(app, ["events", "show", ids[0]]).output
    )
    as_json = runner.invoke(app, ["events", "list", "--json"])
    assert {e["model"] for e in json.loads(as_json.output)} >= set(names)  # JSON: exact data


def test_own_write_echoes_are_hidden_unless_asked_for(state: Path) -> None:
    from mlops_hooks.functions.wiring import build_dispatcher
    from mlops_hooks.shared.domain import events
    from mlops_hooks.shared.domain.events import OWN_WRITE, Source
    from mlops_hooks.shared.settings import Settings

    dispatcher = build_dispatcher(Settings(state_dir=state))
    echo = dispatcher.submit(
        events.ignored(Source.MLFLOW, "d-echo", f"{OWN_WRITE}: tag mlops.validation")
    ).record
    dispatcher.ledger.close()
    shown = {e["id"] for e in json.loads(runner.invoke(app, ["events", "list", "--json"]).output)}
    assert echo.id not in shown and shown  # the others are still listed
    everything = runner.invoke(app, ["events", "list", "--json", "--all"]).output
    assert echo.id in {e["id"] for e in json.loads(everything)}


def test_an_inherited_mlflow_workspace_is_not_given_to_a_databricks_registry() -> None:
    from mlops_hooks.functions.cli import _in_workspace

    mlflow_args: dict = {}
    _in_workspace(mlflow_args, "team-a", databricks=False)
    databricks_args: dict = {}
    _in_workspace(databricks_args, "team-a", databricks=True)  # MLFLOW_WORKSPACE set, --databricks
    assert mlflow_args == {"workspace": "team-a"} and databricks_args == {}


def test_an_empty_listing_says_what_matched_and_show_gives_the_reason(state: Path) -> None:
    dead = runner.invoke(app, ["events", "list", "--status", "dead"])
    assert dead.exit_code == 0 and "no events with status dead" in dead.output
    both = runner.invoke(app, ["events", "list", "--status", "dead", "--kind", "approval"])
    assert "no events with status dead and kind approval" in both.output
    ledger = SqliteLedger(state / "ledger.db")
    why = "MLflow registered_model.created is not acted on"
    ignored = ledger.record(events.ignored(Source.MLFLOW, "d9", why), now=1.8e9 + 2).record
    ledger.close()
    shown = runner.invoke(app, ["events", "show", ignored.id])
    assert f"reason: {why}" in shown.output


def test_policy_errors_and_warnings_are_printed_as_data(tmp_path: Path) -> None:
    """A policy key "[/]" (rich's closing tag) is named in the error as it is: one line and
    exit 1, not a MarkupError traceback."""
    policy = tmp_path / "mlops.yml"
    policy.write_text('version: 1\n"[/]": 1\nmodels: []\n')
    result = runner.invoke(app, ["policy", "check", str(policy)])
    assert result.exit_code == 1, result.output
    assert "unknown key '[/]'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
