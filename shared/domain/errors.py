"""One exception tree: every error mlops-hooks raises on purpose derives from ``MlopsHooksError``.

The dispatcher reads ``retryable``: a ``PermanentError`` (bad event, missing configuration,
a version that cannot be registered) sends the event to ``dead`` at once; a ``RetryableError``
(a verdict not there yet, a registry that is briefly down) and any exception we did not raise
on purpose (a network error inside an SDK) are retried with backoff.
"""

from __future__ import annotations


class MlopsHooksError(Exception):
    """The root: an error mlops-hooks raised on purpose, with a one-line message."""

    retryable: bool = True


class PermanentError(MlopsHooksError):
    """Retrying cannot help (bad event, missing configuration): the event goes dead at once."""

    retryable = False


class RetryableError(MlopsHooksError):
    """Worth another attempt later (something is not ready yet)."""

    retryable = True


class ConfigError(PermanentError, ValueError):
    """The configuration (settings, policy, handler modules) is invalid; says what to fix."""


class PortMissing(PermanentError):
    """A handler needs a port this deployment does not configure."""


class VersionNotFound(PermanentError):
    """The registry has no such model version (a test delivery, a deleted version): retrying
    cannot make it exist; the handler says so and skips."""


class TableError(PermanentError, ValueError):
    """A table cannot be read (missing, unreadable, unknown format): one line saying which."""


def is_retryable(exc: BaseException) -> bool:
    """Ours say so; anything else (an SDK's network error, a bug) gets another attempt."""
    return exc.retryable if isinstance(exc, MlopsHooksError) else True
