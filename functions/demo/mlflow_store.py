"""An empty MLflow store, its schema migrated once per environment, that a new local server
starts from.

Why: a new SQLite store makes the server run all of MLflow's schema migrations at its first
start (~1 s of CPU of the ~5 s it takes to start); the demo starts one server and the test
suite about ten. MLflow has no option to start from a migrated store, so this keeps one:
``python -m mlops_hooks.functions.demo.mlflow_store`` (``make mlflow-store``, run by ``make
demo`` and ``make test``) migrates an empty database with MLflow's own code, and
``start_mlflow_server`` copies it in as the store of a new server. The server still checks the
schema itself and creates its default experiment (with its own artifact root), as on any
store it opens. The template's name carries MLflow's version, so another MLflow never uses
it; without a template a server migrates its store as before.
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

from mlops_hooks.shared.adapters.environment_files import environment_file


def template_path() -> Path:
    """This environment's template for the installed MLflow (read from its metadata: no
    import of MLflow here)."""
    return environment_file(f"mlflow-{metadata.version('mlflow')}-store.db")


def seed(database: Path, template: Path | None = None) -> bool:
    """Copy the template (this environment's by default) in as ``database`` when there is no
    store there yet; True if it did."""
    template = template or template_path()
    if database.exists() or not template.is_file():
        return False
    partial = database.with_name(database.name + ".partial")
    shutil.copyfile(template, partial)
    os.replace(partial, database)
    return True


def build(force: bool = False, target: Path | None = None) -> Path:
    """Migrate an empty SQLite database to MLflow's schema (MLflow's own migrations, as its
    server runs them on a new store) and keep it as the template (this environment's by
    default); it is written aside and moved in place, so a server never copies half a
    template."""
    target = target or template_path()
    if target.is_file() and not force:  # before importing MLflow: `make test` asks each time
        return target
    import logging

    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables  # what the server runs on a new store

    for name in ("mlflow", "alembic"):  # each migration's INFO line: not a `make` step's output
        logging.getLogger(name).setLevel(logging.WARNING)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    engine = sqlalchemy.create_engine(f"sqlite:///{partial}")
    try:
        _initialize_tables(engine)
    finally:
        engine.dispose()
    os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build it again")
    args = parser.parse_args(argv)
    try:
        built = build(force=args.force)
    except Exception as exc:  # the servers simply migrate their own stores, as before
        print(f"no MLflow store template ({type(exc).__name__}: {exc}); servers start as before")
        return 0
    print(f"MLflow store template: {built}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
