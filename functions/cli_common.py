"""What every `mlops-hooks` command shares: consoles that print data as data, one-line errors,
settings and the dispatcher, and ``run_action``: a state change submitted through the ledger.

Error lines are printed without markup interpretation (a model may be called ``churn[v2]``).
"""

from __future__ import annotations

import getpass
import re
import socket
import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from mlops_hooks.shared.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mlops_hooks.shared.dispatch import Dispatcher
    from mlops_hooks.shared.ports.ledger import EventRecord

out = Console(soft_wrap=True)  # messages stay one line (ids and URLs stay copyable)
err = Console(stderr=True)

ACTION_TIMEOUT_SECONDS = 120.0

WideOption = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="One table row per line however wide (for logs and grep); default: a table when "
        "it fits the terminal, else each row stacked on its own lines.",
    ),
]


def fail(message: str, code: int = 2) -> NoReturn:
    tell(message, label="error: ", style="bold red")
    raise typer.Exit(code)


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def as_data(value: object) -> Text:
    """A value printed as data: rich markup is not interpreted (``[/]``, ``churn[v2]``) and
    control characters (an escape sequence in a model name) are shown escaped, never sent."""
    return Text(CONTROL.sub(lambda m: repr(m.group(0))[1:-1], str(value)))


def print_rows(
    headers: list[str],
    rows: list[list[str]],
    *,
    keys: int,
    wide: bool = False,
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """Rows as aligned columns when they fit the terminal (or ``wide``: one line per row however
    long, for logs and grep); otherwise stacked: the first ``keys`` columns (ids, kinds,
    statuses: never cut) on one line, the others below it, indented and wrapped. Nothing is
    cut with an ellipsis: a cut id cannot be copied, a cut status says nothing.

    Hand-written rather than a rich Table: rich shrinks and drops columns to fit a width,
    which is what cut ids to "ev_0528…" in an 80-column terminal or a log."""
    import textwrap

    if not rows:
        return
    console = console or out
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    stacked = not wide and sum(widths) + 2 * (len(headers) - 1) > console.width
    shown = keys if stacked else len(headers)

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells[:shown], widths, strict=False)).rstrip()

    if title:
        console.print(as_data(title), highlight=False)
    console.print(as_data(line(headers)), highlight=False, style="bold", soft_wrap=True)
    for row in rows:
        console.print(as_data(line(row)), highlight=False, soft_wrap=True)
        rest = [f"{h}: {c}" for h, c in zip(headers[shown:], row[shown:], strict=True) if c]
        for part in textwrap.wrap(" · ".join(rest), max(20, console.width - 4)):
            console.print(as_data("    " + part), highlight=False, soft_wrap=True)


def say(message: object) -> None:
    """One line of data, printed as it is (no markup, no highlighting)."""
    out.print(as_data(message), highlight=False)


def tell(message: object, *, label: str = "", style: str = "") -> None:
    """One line to stderr, printed as data; ``label`` (e.g. "note: ") in ``style`` before it."""
    err.print(Text(label, style=style) + as_data(message), highlight=False, soft_wrap=True)


def one_line(exc: BaseException) -> str:
    """The error in one line; a server's error says which server and why."""
    from mlops_hooks.shared.domain.server_errors import cause_of

    return cause_of(exc)


# commands that run for long and keep the clients' own patient retries
LONG_RUNNING = frozenset({"serve", "demo"})


def bound_server_waits() -> None:
    """A command that talks to a server fails within MLOPS_HOOKS_SERVER_TIMEOUT_SECONDS (15)
    instead of the clients' defaults (MLflow: 7 retries with backoff, about 4 minutes;
    databricks-sdk: 5 minutes): two tries of a third of it each. Variables the user set win."""
    import os

    try:
        budget = float(os.environ.get("MLOPS_HOOKS_SERVER_TIMEOUT_SECONDS") or 0) or None
    except ValueError:
        budget = None  # said by settings when the command loads them
    budget = budget or Settings.model_fields["server_timeout_seconds"].default
    for name, value in (
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, int(budget // 3)))),
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0.5"),
        ("MLOPS_HOOKS_DATABRICKS_RETRY_TIMEOUT_SECONDS", str(max(1, int(budget)))),
    ):
        os.environ.setdefault(name, value)


def settings_or_fail(**overrides: Any) -> Settings:
    from mlops_hooks.functions.wiring import load_settings

    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        fail(str(exc))


def dispatcher_or_fail(settings: Settings) -> Dispatcher:
    from mlops_hooks.functions.wiring import build_dispatcher

    try:
        return build_dispatcher(settings)
    except Exception as exc:
        fail(f"cannot open the ledger at {settings.resolved_ledger_url}: {one_line(exc)}")


def who() -> str:
    """The OS user who ran the command, and where (the audit trail's "who")."""
    return f"{_os_user()}@{socket.gethostname()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name (a container without /etc/passwd entry)
        return "unknown"


def reviewer() -> str:
    """Who decides from the command line: MLOPS_HOOKS_REVIEWER (a shared host, where the OS
    user is a service account), else the OS user."""
    import os

    named = os.environ.get("MLOPS_HOOKS_REVIEWER", "").strip()
    return named or _os_user()


def run_action(
    command: str,
    arguments: dict[str, Any],
    *,
    failure: str,
    request_id: str | None = None,
    timeout: float = ACTION_TIMEOUT_SECONDS,
) -> EventRecord:
    """Record the command as an ``action`` event, carry it out (here, unless a running ``serve``
    claimed it first) and wait for its outcome; exit 1 with one line (``failure``: the reason)
    if it fails or times out.

    The same ``request_id`` retried is the same event: carried out once, its outcome reported.
    Carried out here, a failing command is not retried behind the user's back: it ends ``dead``
    at once (kept, and replayable with `events replay`).
    """
    from mlops_hooks.shared.domain import events

    event = events.action(command, arguments, request_id or uuid.uuid4().hex, user=who())
    return carry_out_here(
        event,
        what=command,
        failure=failure,
        timeout=timeout,
        request_id=event.payload["request_id"],
    )


def carry_out_here(
    event: Any, *, what: str, failure: str, timeout: float, request_id: str | None = None
) -> EventRecord:
    """Record ``event``, process it here (unless a running ``serve`` claimed it first) and wait
    for its outcome; exit 1 with one line if it fails or times out."""
    from mlops_hooks.shared.ports.ledger import Status

    settings = settings_or_fail(max_attempts=1)
    dispatcher = dispatcher_or_fail(settings)
    try:
        recorded = dispatcher.submit(event)
    except Exception as exc:
        fail(f"could not record the {what} command: {one_line(exc)}", code=1)
    if not recorded.created and request_id:
        say(f"request {request_id} was recorded before as {event.id}:")
    terminal = (Status.DONE, Status.DEAD, Status.IGNORED)
    deadline = time.monotonic() + timeout
    record = recorded.record
    while record.status not in terminal:
        if time.monotonic() > deadline:
            fail(
                f"{what}: no outcome after {timeout:g} s (event {record.id} is "
                f"{record.status.value}; a running `mlops-hooks serve` will finish it, see "
                f"`mlops-hooks events show {record.id}`)",
                code=1,
            )
        processed = dispatcher.process(record.id, worker=f"cli-{who()}")
        if processed is None:  # leased elsewhere or waiting for its retry time
            time.sleep(0.2)
        record = dispatcher.ledger.get(record.id) or record
    dispatcher.ledger.close()
    if record.status is not Status.DONE:
        from mlops_hooks.shared.domain.server_errors import cause_of

        said = cause_of(record.last_error) if record.last_error else record.status.value
        fail(f"{failure}: {said} (event {record.id})", code=1)
    return record
