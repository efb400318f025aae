"""Handlers, one module per event kind: ``handle(event, deps) -> Outcome``.

``BUILTIN`` maps each kind to its handler. Handler modules import heavy libraries inside
``handle`` only, so loading this table stays cheap for the edge functions. Deployments can add
or override handlers with ``MLOPS_HOOKS_HANDLER_MODULES=package.module:MAPPING`` (see
``load_handlers``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from mlops_hooks.handlers import (
    action,
    approval,
    data_landed,
    drift_detected,
    labels_landed,
    model_registered,
    performance_degraded,
    promotion_requested,
    scheduled,
)
from mlops_hooks.shared.domain.errors import ConfigError
from mlops_hooks.shared.domain.events import EventKind
from mlops_hooks.shared.ports.outcome import Handler

BUILTIN: dict[EventKind, Handler] = {
    EventKind.MODEL_REGISTERED: model_registered.handle,
    EventKind.PROMOTION_REQUESTED: promotion_requested.handle,
    EventKind.APPROVAL: approval.handle,
    EventKind.DATA_LANDED: data_landed.handle,
    EventKind.LABELS_LANDED: labels_landed.handle,
    EventKind.SCHEDULED: scheduled.handle,
    EventKind.DRIFT_DETECTED: drift_detected.handle,
    EventKind.PERFORMANCE_DEGRADED: performance_degraded.handle,
    EventKind.ACTION: action.handle,
}


class HandlerConfigError(ConfigError):
    pass


def load_handlers(spec: str = "") -> dict[EventKind, Handler]:
    """Built-in handlers, overridden by each ``module:attribute`` mapping in ``spec``."""
    handlers = dict(BUILTIN)
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attr = entry.partition(":")
        if not attr:
            raise HandlerConfigError(f"handler module {entry!r}: expected package.module:MAPPING")
        try:
            mapping = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise HandlerConfigError(f"handler module {entry!r}: {exc}") from None
        if not isinstance(mapping, Mapping):
            raise HandlerConfigError(f"handler module {entry!r}: {attr} is not a mapping")
        for kind, handler in mapping.items():
            try:
                handlers[EventKind(kind)] = handler
            except ValueError:
                raise HandlerConfigError(
                    f"handler module {entry!r}: unknown event kind {kind!r}"
                ) from None
    return handlers
