"""In-memory fakes of our ports, for tests."""

from __future__ import annotations


class Wakes:
    """A Queue that remembers which event ids it was asked to wake."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def notify(self, event_id: str) -> None:
        self.ids.append(event_id)
