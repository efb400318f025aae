"""The comparison's picture: ROC curves (classifiers) or residuals (regressors) of champion
and challenger on the same holdout, as a PNG for the challenger's run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.scoring import Scored


def overlay_png(
    champion: Scored | None, challenger: Scored, path: Path, *, labels: tuple[str, str]
) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and Lambda
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axes = plt.subplots(figsize=(5, 4.2), dpi=100)
    pairs = [(s, label) for s, label in ((champion, labels[0]), (challenger, labels[1])) if s]
    if challenger.classifier and all(s.scores is not None for s, _ in pairs):
        for scored, label in pairs:
            fpr, tpr, _ = roc_curve(scored.truth, scored.scores)
            auc = roc_auc_score(scored.truth, scored.scores)
            axes.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})")
        axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
        axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    else:
        for scored, label in pairs:
            residual = np.asarray(scored.predicted, float) - np.asarray(scored.truth, float)
            axes.hist(residual, bins=40, alpha=0.5, label=label)
        axes.set(xlabel="prediction - truth", ylabel="rows", title="Residuals")
    axes.legend(loc="lower right" if challenger.classifier else "upper right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
