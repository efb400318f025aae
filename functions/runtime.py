"""Per-process wiring for the edge: settings, and a dispatcher built on first use.

Building lazily keeps module import cheap (a Lambda cold start imports this module before it
knows it will be asked anything), and lets serve/tests inject a ready dispatcher.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.dispatch import Dispatcher
from shared.settings import Settings, load_settings


class Runtime:
    def __init__(
        self,
        settings: Settings | None = None,
        dispatcher: Dispatcher | None = None,
        *,
        factory: Callable[[Settings], Dispatcher] | None = None,
        insecure_no_signature: bool = False,
    ) -> None:
        self._settings = settings
        self._dispatcher = dispatcher
        self._factory = factory
        self._lock = threading.Lock()
        self.insecure_no_signature = insecure_no_signature

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            with self._lock:
                if self._dispatcher is None:
                    if self._factory is None:
                        from shared.bootstrap import bootstrap

                        self._factory = bootstrap
                    self._dispatcher = self._factory(self.settings)
        return self._dispatcher
