"""One drift check of a model: its training reference against the latest window of its scored
inputs. What both ways of running it share: jobs/drift_check.py (Spark) and the scheduled
handler's in-process check (pandas) find the same reference, compare the same features, write
the same monitoring rows and raise the same alarm.

The reference is the feature table of the champion's training run, **at the Delta version that
run wrote** (jobs/train.py logs ``features_table`` and ``features_table_version``), so later
training runs cannot move it. The current data is the batch-inference output of the last
``window_days`` scoring days.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlops_hooks.shared.domain.errors import PermanentError

if TYPE_CHECKING:
    import pandas as pd

    from mlops_hooks.shared.domain.drift import DriftReport

ALARM_PREFIX = "mlops-drift-"  # functions/aws_events.py maps it back to the model
SCORING_COLUMNS = ("prediction", "model_version", "scored_at", "score_date")
DETAILED_FEATURES = 8  # features whose bins travel with the alarm (for the histograms)


class DriftCheckError(PermanentError, ValueError):
    """The check cannot run with what it was given; one readable line."""


def reference_of(
    run_params: dict[str, str], *, given: str | None = None, given_version: int | None = None
) -> tuple[str, int | None]:
    """(reference table URI, its Delta version): the policy's ``drift.reference`` when given,
    else the feature table the champion's training run logged."""
    if given:
        return given, given_version
    uri = run_params.get("features_table")
    if not uri:
        raise DriftCheckError(
            "the champion's training run logged no features_table (it was not trained by "
            "the train job): set drift.reference in the policy to the table it was trained on"
        )
    version = run_params.get("features_table_version")
    return uri, int(version) if version and int(version) >= 0 else None


def window(dates: list[date], days: int) -> tuple[date, date]:
    """The last ``days`` scoring days: (first, last)."""
    if not dates:
        raise DriftCheckError("the scored table has no rows yet: run batch_inference first")
    end = max(dates)
    return end - timedelta(days=days - 1), end


def features_to_compare(
    reference: list[str],
    current: list[str],
    *,
    wanted: list[str],
    label: str,
    ids: tuple[str, ...] = (),
) -> list[str]:
    """The policy's ``drift.features``, or every column both tables have but the label, the
    ids and the scoring columns."""
    if wanted:
        missing = [f for f in wanted if f not in reference or f not in current]
        if missing:
            raise DriftCheckError(f"drift.features not in both tables: {', '.join(missing)}")
        return list(wanted)
    skip = {label, *ids, *SCORING_COLUMNS}
    return [c for c in reference if c in current and c not in skip]


def monitoring_rows(
    report: DriftReport,
    *,
    model: str,
    version: str,
    first: date,
    last: date,
    checked_at: datetime,
) -> pd.DataFrame:
    """One row per feature for the monitoring Delta table (partitioned by ``checked_date``)."""
    import pandas as pd

    keep = ("feature", "kind", "psi", "status", "ks", "wasserstein", "js_distance")
    rows = [
        {
            "checked_at": checked_at,
            "checked_date": checked_at.date().isoformat(),
            "model": model,
            "model_version": version,
            "window_start": first.isoformat(),
            "window_end": last.isoformat(),
            **{k: getattr(f, k) for k in keep},
            "reference_rows": f.reference_rows,
            "current_rows": f.current_rows,
        }
        for f in report.features
    ]
    frame = pd.DataFrame(rows)
    for column in ("ks", "wasserstein", "js_distance"):
        frame[column] = frame[column].astype(float)
    return frame


def details(report: DriftReport, *, version: str, first: date, last: date) -> dict[str, Any]:
    """What the drift_detected handler needs: the verdicts, and the worst features' bins."""
    worst = {f.feature for f in report.worst(DETAILED_FEATURES)}
    return {
        "model_version": version,
        "window": [first.isoformat(), last.isoformat()],
        "drifted": report.drifted,
        "warned": report.warned,
        "psi_warn": report.psi_warn,
        "psi_drift": report.psi_drift,
        "features": [
            f.as_row()
            if f.feature in worst
            else {k: v for k, v in f.as_row().items() if not isinstance(v, list)}
            for f in report.worst()
        ],
    }


def alarm_message(
    report: DriftReport, *, model: str, version: str, first: date, last: date, checked_at: datetime
) -> dict[str, Any]:
    """A CloudWatch-alarm-shaped message: published to the alarm topic, it arrives through the
    same SNS path as a real alarm (functions/aws_events.py) and becomes ``drift_detected``."""
    return {
        "AlarmName": f"{ALARM_PREFIX}{model}",
        "AlarmDescription": json.dumps(details(report, version=version, first=first, last=last)),
        "NewStateValue": "ALARM",
        "OldStateValue": "OK",
        "NewStateReason": report.summary(),
        "StateChangeTime": checked_at.isoformat(timespec="seconds"),
        "Trigger": {"Dimensions": [{"name": "model", "value": model}]},
    }


def details_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The check's details from a drift_detected event's payload (None for a plain alarm)."""
    if "drifted" in payload:
        return payload
    text = payload.get("AlarmDescription")
    if not isinstance(text, str) or not text.startswith("{"):
        return None
    try:
        found = json.loads(text)
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) and "drifted" in found else None
