"""The migrated MLflow store template (functions/demo/mlflow_store.py, `make mlflow-store`): a
server started on a copy skips MLflow's migrations (~1 s of CPU) and has the same store as a
server that migrated a new one itself; a store that exists is never replaced."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mlflow import MlflowClient

from mlops_hooks.functions.demo import mlflow_store
from tests.support.processes import Proc, start_mlflow_server

MIGRATING = "Creating initial MLflow database tables"  # MLflow's line on a new store


def schema(database: Path) -> tuple[str, list[str]]:
    """(the migration the store is at, its tables)."""
    with sqlite3.connect(database) as db:
        [(version,)] = db.execute("select version_num from alembic_version").fetchall()
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
    return version, sorted(tables)


def default_experiment(url: str) -> tuple[str, str]:
    found = MlflowClient(tracking_uri=url).get_experiment("0")
    return found.name, found.artifact_location


def test_a_seeded_server_skips_the_migrations_and_has_the_same_store(
    mlflow_server: Proc, session_dir: Path, tmp_path: Path
) -> None:
    assert mlflow_store.template_path().is_file()  # make test builds it first
    assert MIGRATING not in mlflow_server.output()  # the session's server started on a copy
    fresh = start_mlflow_server(tmp_path, seeded=False)
    try:
        assert MIGRATING in fresh.output()
        assert default_experiment(fresh.url) == default_experiment(mlflow_server.url)
    finally:
        fresh.stop()
    seeded, migrated = session_dir / "mlflow" / "mlflow.db", tmp_path / "mlflow" / "mlflow.db"
    assert schema(seeded) == schema(migrated)
    assert len(schema(seeded)[1]) > 20  # MLflow's tables, not an empty file


def test_a_store_is_seeded_only_when_it_does_not_exist(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    template.write_bytes(b"template")
    new, kept = tmp_path / "new.db", tmp_path / "kept.db"
    kept.write_bytes(b"a server's own store")
    assert mlflow_store.seed(new, template) and new.read_bytes() == b"template"
    assert not mlflow_store.seed(kept, template) and kept.read_bytes() == b"a server's own store"
    assert not mlflow_store.seed(tmp_path / "other.db", tmp_path / "no-template.db")
    assert not (tmp_path / "other.db").exists()
    assert not list(tmp_path.glob("*.partial"))
