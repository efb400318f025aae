"""The renderer: registry reports as markdown (markdown.py), pictures as PNG (plots.py)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.adapters import markdown
from mlops_hooks.shared.ports.renderer import Image, Links

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.comparison import Decision
    from mlops_hooks.shared.domain.scoring import Scored
    from mlops_hooks.shared.domain.validation import Validation


class ReportRenderer:
    def validation_report(
        self,
        validation: Validation,
        *,
        validated_at: str,
        policy_source: str,
        event_id: str,
        links: Links,
    ) -> str:
        return markdown.validation_markdown(
            validation,
            validated_at=validated_at,
            policy_source=policy_source,
            event_id=event_id,
            links=links,
        )

    def comparison_report(self, decision: Decision, **facts: Any) -> str:
        return markdown.comparison_markdown(decision, **facts)

    def comparison_table(self, decision: Decision) -> list[list[str]]:
        return markdown.comparison_table(decision)

    def approval_report(self, *, approved: bool, comment: str, recommendation: Any) -> str:
        return markdown.approval_markdown(
            approved=approved, comment=comment, recommendation=recommendation
        )

    def comparison_image(
        self, champion: Scored | None, challenger: Scored, *, labels: tuple[str, str], name: str
    ) -> Image:
        from mlops_hooks.shared.adapters.plots import overlay_png

        buffer = io.BytesIO()
        overlay_png(champion, challenger, buffer, labels=labels)
        return Image(name, buffer.getvalue())

    def drift_image(self, features: list[dict[str, Any]], *, name: str) -> Image:
        from mlops_hooks.shared.adapters.plots import drift_png

        buffer = io.BytesIO()
        drift_png(features, buffer)
        return Image(name, buffer.getvalue())
