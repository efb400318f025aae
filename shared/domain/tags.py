"""The ``mlops.*`` vocabulary: every tag name mlops-hooks reads or writes, in one place.

On a model version (MLflow OSS, Databricks, Unity Catalog) and on the runs our jobs start.
Tags are the registry's public face of our decisions: whoever polls the registry reads them.
"""

from __future__ import annotations

PREFIX = "mlops."

# --- on a model version ---------------------------------------------------------------------
VALIDATION = "mlops.validation"  # the verdict: passed | failed | error (written last)
VALIDATION_ERROR = "mlops.validation.error"  # why the checks could not run (verdict error)
VALIDATION_FAILED = "mlops.validation.failed"  # the failing checks, comma-separated
VALIDATION_EVENT = "mlops.validation.event"  # the event that validated it
VALIDATED_AT = "mlops.validated_at"
PROMOTION = "mlops.promotion"  # promoted | rejected | rolled_back
APPROVAL = "mlops.approval"  # approved | rejected (manual mode)
APPROVAL_BY = "mlops.approval.by"  # the reviewer's id
PROMOTE = "mlops.promote"  # set by a person: request promotion to the tag's value
COMMENT = "mlops.comment.{section}"  # Databricks: the id of the comment holding a report

# --- on runs --------------------------------------------------------------------------------
RUN_MODEL = "mlops.model"  # an evaluation run: which model version it evaluated
RUN_VERSION = "mlops.version"
TRIGGER_EVENT = "mlops.trigger.event"  # a training run: the event that launched it
TRIGGER_REASON = "mlops.trigger.reason"  # data_landed, drift, schedule, manual
TRIGGER_DATA = "mlops.trigger.data"
DRIFT_FEATURES = "mlops.drift.features"  # a retraining: the drifted features, |-separated
LIVE_DEGRADED = "mlops.live.degraded"  # a retraining for concept drift: the live metric


def comment_tag(section: str) -> str:
    return COMMENT.format(section=section)


def is_ours(key: str) -> bool:
    """A tag in our vocabulary (its webhook echo is our own write)."""
    return key.startswith(PREFIX)


def written_by_us(key: object, promote_tag: str = PROMOTE) -> bool:
    """A tag mlops-hooks writes: ours, except the promote tag (a person's request)."""
    return isinstance(key, str) and is_ours(key) and key != promote_tag
