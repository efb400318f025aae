"""The renderer port: reports (markdown), tables and pictures, so handlers never render.

A handler decides *what* to say; the renderer decides how it looks (markdown for registry
reports, PNG bytes for plots). Messages for people are rendered by the Notifier's adapter
(Slack Block Kit) from the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.comparison import Decision
    from mlops_hooks.shared.domain.scoring import Scored
    from mlops_hooks.shared.domain.validation import Validation

Links = list[tuple[str, str | None]]


@dataclass(frozen=True)
class Image:
    """A rendered picture: its file name (as it is attached to a run) and its PNG bytes."""

    name: str
    data: bytes


class Renderer(Protocol):
    def validation_report(
        self,
        validation: Validation,
        *,
        validated_at: str,
        policy_source: str,
        event_id: str,
        links: Links,
    ) -> str: ...

    def comparison_report(
        self,
        decision: Decision,
        *,
        model: str,
        decided_at: str,
        holdout: str,
        action: str,
        event_id: str,
        image_url: str | None = None,
        links: Links | None = None,
    ) -> str: ...

    def comparison_table(self, decision: Decision) -> list[list[str]]:
        """Header row, then one row per metric (Slack's approval table, the CLI)."""
        ...

    def approval_report(self, *, approved: bool, comment: str, recommendation: Any) -> str: ...

    def comparison_image(
        self, champion: Scored | None, challenger: Scored, *, labels: tuple[str, str], name: str
    ) -> Image: ...

    def drift_image(self, features: list[dict[str, Any]], *, name: str) -> Image: ...
