"""`mlops-hooks demo`: the whole loop on one machine, one command."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mlops_hooks.functions.cli_common import fail, out, tell


def demo(
    fast: Annotated[bool, typer.Option(help="Smaller data (the test suite's run).")] = False,
    keep: Annotated[
        bool, typer.Option(help="Leave the stack running at the end (Ctrl-C stops it).")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(help="A Telco-churn-shaped CSV to use instead of generated data."),
    ] = None,
    rows: Annotated[int | None, typer.Option(min=200, help="Rows per batch of data.")] = None,
    folder: Annotated[
        Path | None, typer.Option(help="Where the stack keeps its state [a new temp folder].")
    ] = None,
) -> None:
    """Play the MLOps loop on an embedded stack: MLflow 3 server, moto (S3/SQS/SNS/DynamoDB),
    `serve` with its worker and scheduler, a Slack sink and local Spark jobs."""
    from mlops_hooks.functions.demo.memory import PeakMemory
    from mlops_hooks.functions.demo.stack import Stack
    from mlops_hooks.functions.demo.story import StepFailed, Story

    _preflight(data)
    where = folder or Path(tempfile.mkdtemp(prefix="mlops-hooks-demo-"))
    story = Story(Stack(where), rows or (1500 if fast else 5000), data, say=out.print)
    started = time.monotonic()
    failed: str | None = None
    # the stack's servers run in their own process groups (a Ctrl-C reaches only the demo):
    # whatever ends the demo (a failed step, Ctrl-C, SIGTERM, an error of its own, a closed
    # output pipe) stops them
    stopping: list[bool] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _: _interrupt(signum, stopping))
    try:
        with PeakMemory() as memory:
            try:
                story.play()
            except StepFailed as exc:
                failed = str(exc)
            except KeyboardInterrupt:
                failed = "interrupted"
        try:
            _finish(story, failed, time.monotonic() - started, memory.summary())
        finally:
            story.close()
        if keep and not failed:
            _keep_running(story)
    finally:
        stopping.append(True)  # a SIGTERM from here on (a second one, say) stops nothing short
        story.stack.stop()
        signal.signal(signal.SIGTERM, previous)
    if failed:
        tell(failed, label="demo failed at: ", style="bold red")
        raise typer.Exit(1)


def _interrupt(signum: int, stopping: list[bool]) -> None:
    """SIGTERM as Ctrl-C, once. Python runs a handler at the next bytecode it can, which may
    be inside the ``finally`` that stops the stack, before anything there changed the handler
    (a SIGTERM during the last C call before it): so the handler itself ignores every SIGTERM
    after the first, and any once the stop has begun."""
    if stopping:
        return
    stopping.append(True)
    raise KeyboardInterrupt(f"signal {signum}")


def _preflight(data: Path | None) -> None:
    try:
        import moto  # noqa: F401
    except ImportError:
        fail("the demo runs AWS locally with moto: pip install 'mlops-hooks[demo]'")
    if shutil.which("java") is None:
        fail("local Spark needs Java 17: sudo apt-get install -y openjdk-17-jre-headless")
    if data is not None and not data.exists():
        fail(f"--data {data}: no such file")


def _finish(story: Any, failed: str | None, seconds: float, memory: str) -> None:
    from mlops_hooks.functions.cli_common import print_rows
    from mlops_hooks.functions.demo.report import TIMELINE, timeline, write_html

    stack = story.stack
    events: list[dict[str, Any]] = []
    if stack.serve is not None:
        try:
            events = story.events()
        except Exception as exc:  # the report is still written from what there is
            tell(f"could not read the events: {exc}")
    rows = timeline(events)
    print_rows(TIMELINE, rows, keys=4, title="timeline")
    report = write_html(
        stack.folder / "report.html",
        steps=story.steps,
        timeline_rows=rows,
        versions=_versions(story),
        images=_images(story),
        drift_rows=_drift_rows(story),
        slack=[m.get("text", "") for m in stack.sink.messages()],
        failed=failed,
        measured=f"{len(story.steps)} steps, {seconds:.0f} s; {memory}",
    )
    verdict = "[red]failed[/]" if failed else "[green]every step as expected[/]"
    out.print(
        f"{len(story.steps)} steps, {seconds:.0f} s: {verdict}; {memory}. Report: {report}",
        highlight=False,
    )


def _versions(story: Any) -> list[dict[str, Any]]:
    try:
        found = story.client().search_model_versions("name = 'churn'")
    except Exception:
        return []
    return [
        {"version": v.version, "aliases": list(v.aliases or []), "description": v.description or ""}
        for v in sorted(found, key=lambda v: int(v.version))
    ]


def _images(story: Any) -> list[tuple[str, bytes]]:
    """The comparison plots and drift histograms the handlers logged to the runs."""
    images = []
    try:
        client = story.client()
        # into a folder of ours: without a destination MLflow makes one it never removes
        with tempfile.TemporaryDirectory(prefix="mlops-hooks-demo-plots-") as into:
            for version in client.search_model_versions("name = 'churn'"):
                for folder in ("mlops-hooks", "mlops-hooks/drift"):
                    for item in client.list_artifacts(version.run_id, folder):
                        if item.path.endswith(".png"):
                            local = client.download_artifacts(version.run_id, item.path, into)
                            images.append(
                                (f"v{version.version}: {item.path}", Path(local).read_bytes())
                            )
    except Exception as exc:
        tell(f"could not collect the plots: {exc}")
    return images


def _drift_rows(story: Any) -> list[dict[str, Any]]:
    from mlops_hooks.shared.adapters.table_reader import TableReader
    from mlops_hooks.shared.domain.errors import TableError

    try:
        rows = TableReader().read(str(story.stack.tables / "churn" / "monitoring"), "delta")
    except TableError:
        return []
    latest = rows[rows["checked_at"] == rows["checked_at"].max()].sort_values(
        "psi", ascending=False
    )
    return latest.to_dict(orient="records")


def _keep_running(story: Any) -> None:
    stack = story.stack
    out.print(
        f"The stack keeps running. Monitoring pages: {stack.serve.url}/ui  ·  "
        f"MLflow UI and API: {stack.mlflow.url}  ·  mlops-hooks API: {stack.serve.url}/docs  ·  "
        f"state: {stack.folder}\n"
        "Ctrl-C stops it.",
        highlight=False,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.print("stopping the stack ...")
