"""What both registry adapters share: waiting for READY, and their error type."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlops_hooks.shared.domain.errors import MlopsHooksError, PermanentError
from mlops_hooks.shared.ports.registry import ModelVersion


class RegistryError(MlopsHooksError):
    pass


class RegistrationFailed(RegistryError, PermanentError):
    """The registry gave up on the version: retrying the event cannot help."""


def wait_until_ready(
    get_version: Callable[[str, str], ModelVersion], name: str, version: str, timeout: float
) -> ModelVersion:
    """Poll (0.1 s doubling to 2 s) until READY; a failed registration or a timeout raises."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        mv = get_version(name, version)
        if mv.status == "READY":
            return mv
        if mv.status == "FAILED_REGISTRATION":
            raise RegistrationFailed(f"{name} v{version}: registration failed")
        if time.monotonic() > deadline:
            raise RegistryError(f"{name} v{version}: still {mv.status} after {timeout} s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def drop_alias(registry: Any, name: str, version: str, alias: str | None) -> str:
    """Take ``alias`` off ``version`` if it is still there (another version's stays); says so."""
    if alias is None or registry.get_alias(name, alias) != str(version):
        return ""
    registry.remove_alias(name, alias)
    return f"; removed alias {alias!r}"


def move_champion(registry: Any, name: str, version: str, alias: str, previous_alias: str) -> str:
    """Alias ``alias`` to ``version``; the version it leaves keeps ``previous_alias``."""
    current = registry.get_alias(name, alias)
    if current == str(version):
        return f"v{version} is already {alias!r}"
    if current is not None:
        registry.set_alias(name, previous_alias, current)
    registry.set_alias(name, alias, version)
    moved = f"; v{current} is now {previous_alias!r}" if current else ""
    return f"moved {alias!r} to v{version}{moved}"
