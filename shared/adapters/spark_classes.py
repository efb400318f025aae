"""The JVM's class-data-sharing archive of the classes local Spark loads (JDK AppCDS).

Why: a local Spark JVM parses and verifies ~25,000 classes every time it starts (its metaspace
holds ~117 MB of them). Mapped from an archive instead, the job host's session started in 3.4 s
instead of 5.6 and its first job took 3.5 s instead of 5.4 on 2 cores, with the same memory
(the archive's pages replace the metaspace: 15 MB instead of 117). No library does this for a
pyspark session; it is two documented HotSpot options (``-XX:ArchiveClassesAtExit`` writes
the archive when a JVM ends, ``-XX:SharedArchiveFile`` maps it).

The cost: a long pass ran slower with it (bench/batch_inference.py, 1,000,000 rows: Spark added
4.5-5.1 µs of core time a row instead of 3.0-4.5, six runs each, interleaved). So it is a
setting, ``MLOPS_HOOKS_SPARK_CLASS_ARCHIVE``: off by default; ``on`` for the small JVM of the
demo and the test suite (functions/demo/stack.py SMALL_SPARK), whose jobs are mostly start-up;
or a file of one's own.

The archive lives in the environment whose Spark jars it describes (``sys.prefix``), built
once by ``python -m mlops_hooks.jobs.class_archive`` (``make spark-classes``). The JVM checks
it against its own build and the jars' paths, sizes and times, and starts without it (as
before) when anything differs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from mlops_hooks.shared.adapters.environment_files import environment_file

ENV = "MLOPS_HOOKS_SPARK_CLASS_ARCHIVE"
OFF, ON = ("", "off", "false", "0"), ("on", "true", "1")  # its values; anything else: a file
# the JVM's own messages about the archive (a mismatch, classes it cannot archive) stay out
# of the jobs' logs: without the archive the JVM simply loads classes as it always did
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def _java() -> str:
    """The java Spark's launcher runs (JAVA_HOME's, else the PATH's), resolved."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return os.path.realpath(found) if found else ""


def _setting() -> str:
    return os.environ.get(ENV, "").strip()


def archive_path() -> Path | None:
    """Where the archive is (or would be): the setting's file, else this environment's; None
    when the setting says ``off``."""
    chosen = _setting()
    if chosen and chosen.lower() in OFF:
        return None
    if chosen and chosen.lower() not in ON:
        return Path(chosen)
    import pyspark

    java = _java()
    try:
        stamp = f"{java}:{os.stat(java).st_mtime_ns}" if java else ""
    except OSError:
        stamp = java
    key = hashlib.sha256(f"{pyspark.__version__}|{pyspark.__file__}|{stamp}".encode()).hexdigest()
    return environment_file(f"spark-classes-{key[:12]}.jsa")


def _option(flag: str, path: Path) -> str:
    text = f"{flag}={path}"
    return f'"{text}"' if " " in text else text  # Spark splits the options like a shell


def java_options() -> str:
    """The options that map the archive, when the setting asks for one and it is built."""
    if _setting().lower() in OFF:
        return ""
    path = archive_path()
    if path is None or not path.is_file():
        return ""
    return f"{_option('-XX:SharedArchiveFile', path)} {QUIET}"


def dump_options(path: Path) -> str:
    """The options that make a JVM write the archive of what it loaded when it ends."""
    return f"{_option('-XX:ArchiveClassesAtExit', path)} {QUIET}"
