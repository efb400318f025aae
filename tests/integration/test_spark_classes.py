"""The Spark class archive (shared/adapters/spark_classes): which options a local session gets,
that a damaged archive costs nothing but its speed, and that the suite's own Spark (the demo's
small JVM, which asks for it) maps the archive `make test` built."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_hooks.shared.adapters import spark_classes
from mlops_hooks.shared.adapters.spark_classes import ENV, QUIET, archive_path, java_options


def test_the_options_map_an_archive_only_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = tmp_path / "spark.jsa"
    monkeypatch.setenv(ENV, str(built))
    assert java_options() == ""  # not built yet: Spark starts as it always did

    built.write_bytes(b"archive")
    assert java_options() == f"-XX:SharedArchiveFile={built} {QUIET}"

    spaced = tmp_path / "a folder" / "spark.jsa"
    spaced.parent.mkdir()
    spaced.write_bytes(b"archive")
    monkeypatch.setenv(ENV, str(spaced))
    assert java_options() == f'"-XX:SharedArchiveFile={spaced}" {QUIET}'  # one option to Spark

    monkeypatch.setenv(ENV, "off")
    assert archive_path() is None and java_options() == ""


def test_the_environments_archive_is_mapped_only_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off by default (a long pass ran slower with it); ``on`` maps this environment's."""
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.delenv(ENV, raising=False)
    built = archive_path()
    assert built is not None and built.is_relative_to(tmp_path)
    built.parent.mkdir(parents=True)
    built.write_bytes(b"archive")
    assert java_options() == ""
    monkeypatch.setenv(ENV, "on")
    assert java_options() == f"-XX:SharedArchiveFile={built} {QUIET}"


def test_the_default_archive_belongs_to_this_environment_and_its_java(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    first = archive_path()
    assert first is not None and first.suffix == ".jsa"
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert archive_path() != first  # another JDK: another archive, never a mismatched one


@pytest.mark.skipif(shutil.which("java") is None, reason="needs java")
def test_a_damaged_archive_leaves_java_starting_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = tmp_path / "spark.jsa"
    damaged.write_bytes(b"\x00not an archive" * 1000)
    monkeypatch.setenv(ENV, str(damaged))
    done = subprocess.run(
        ["java", *java_options().split(), "-version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "openjdk" in done.stderr.lower() or "java" in done.stderr.lower()
    assert "cds" not in (done.stdout + done.stderr).lower()  # no warning in a job's log


def test_the_suites_spark_maps_the_built_archive(spark) -> None:
    path = spark_classes.archive_path()
    if path is None or not path.is_file():
        pytest.skip(f"no Spark class archive at {path} (make test builds it first)")
    jvm = spark.sparkContext._gateway.proc.pid
    assert str(path) in Path(f"/proc/{jvm}/maps").read_text()
