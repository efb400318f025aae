"""The composition root of every entry point: settings -> handlers + ports -> a dispatcher.

The edge knows the handler table (mlops_hooks.handlers); bootstrap (shared/) builds the ports
from settings. Lambda handlers, ``serve`` and the CLI all build their dispatcher here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_hooks.shared.dispatch import Dispatcher
    from mlops_hooks.shared.settings import Settings


def build_dispatcher(settings: Settings, **ports: Any) -> Dispatcher:
    """The dispatcher for ``settings``: the built-in handlers plus MLOPS_HOOKS_HANDLER_MODULES;
    any port given here wins over what settings would build."""
    from mlops_hooks.handlers import load_handlers
    from mlops_hooks.shared.bootstrap import bootstrap

    ports.setdefault("handlers", load_handlers(settings.handler_modules))
    return bootstrap(settings, **ports)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and the SSM secrets document on AWS)."""
    from mlops_hooks.shared.bootstrap import load_settings as from_environment

    return from_environment(**overrides)
