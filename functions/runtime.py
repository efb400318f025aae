"""Per-process wiring for the edge: settings, and a dispatcher built on first use.

Building lazily keeps module import cheap (a Lambda cold start imports this module before it
knows it will be asked anything), and lets serve/tests inject a ready dispatcher.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from mlops_hooks.functions.rejections import Rejections

if TYPE_CHECKING:
    from mlops_hooks.functions.batching import GroupCommit
    from mlops_hooks.shared.dispatch import Dispatcher
    from mlops_hooks.shared.settings import Settings


YOUNG_GC_THRESHOLD = 10_000  # net new container objects between young collections (700)


def settle_heap() -> None:
    """Call once start-up is done: move everything allocated so far out of the cyclic GC.

    Without this each full collection walks the whole start-up heap (FastAPI, pydantic,
    our modules) while requests wait: it set the p99 of bench/ingress.py (42 ms -> 13 ms).

    The young generation's threshold goes up too: webhooks waiting for their group commit
    keep their objects alive (about 25 each, 64 connections in flight), so the default 700
    was passed several times a batch: 540-580 collections of about 0.2 ms in 8 s of
    bench/ingress.py, 0.7-1.3 us a request. The count that sets one off is of container
    objects made and not yet freed; a request's are freed by reference counting once it is
    answered, so a higher threshold delays only the collection of reference cycles.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


class Runtime:
    def __init__(
        self,
        settings: Settings | None = None,
        dispatcher: Dispatcher | None = None,
        *,
        factory: Callable[[Settings], Dispatcher] | None = None,
        insecure_no_signature: bool = False,
        public: bool = False,
    ) -> None:
        """``public``: reachable from other machines (a Lambda behind an HTTP API, ``serve`` on a
        non-loopback address): the read API then needs MLOPS_HOOKS_API_TOKEN."""
        self._settings = settings
        self._dispatcher = dispatcher
        self._factory = factory
        self._lock = threading.Lock()
        self.insecure_no_signature = insecure_no_signature
        self.public = public
        self._group_commit: GroupCommit | None = None
        self.rejections = Rejections()  # refused deliveries: logged (rate-limited), counted

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from mlops_hooks.functions.wiring import load_settings

            self._settings = load_settings()
        return self._settings

    def close(self) -> None:
        """Stop the edge's batch writer (its connection and checkpointer)."""
        if self._group_commit is not None:
            self._group_commit.close()

    @property
    def group_commit(self) -> GroupCommit:
        if self._group_commit is None:
            from mlops_hooks.functions.batching import GroupCommit

            self._group_commit = GroupCommit(self.dispatcher)
        return self._group_commit

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            with self._lock:
                if self._dispatcher is None:
                    if self._factory is None:
                        from mlops_hooks.functions.wiring import build_dispatcher

                        self._factory = build_dispatcher
                    self._dispatcher = self._factory(self.settings)
        return self._dispatcher
