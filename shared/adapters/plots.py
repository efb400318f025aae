"""Pictures for reports: the comparison's ROC curves (classifiers) or residuals (regressors) of
champion and challenger on the same holdout; the drift check's histograms of the worst features
(reference vs current, over the reference's PSI bins)."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_hooks.shared.domain.scoring import Scored


def overlay_png(
    champion: Scored | None, challenger: Scored, out: IO[bytes], *, labels: tuple[str, str]
) -> None:
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
    figure.savefig(out, format="png")
    plt.close(figure)


def drift_png(features: list[dict[str, Any]], out: IO[bytes], *, limit: int = 4) -> None:
    """Side-by-side bars of reference and current shares per PSI bin, worst features first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    shown = [f for f in features if f.get("bins")][:limit]
    figure, grid = plt.subplots(
        1, max(len(shown), 1), figsize=(4.2 * max(len(shown), 1), 3.6), dpi=100, squeeze=False
    )
    for axes, feature in zip(grid[0], shown, strict=False):
        # the missing-values bin only when it holds anything
        keep = [
            i
            for i, label in enumerate(feature["bins"])
            if label != "__missing__"
            or feature["reference_share"][i] + feature["current_share"][i] > 0
        ]
        x = np.arange(len(keep))
        axes.bar(x - 0.2, [feature["reference_share"][i] for i in keep], 0.4, label="reference")
        axes.bar(x + 0.2, [feature["current_share"][i] for i in keep], 0.4, label="current")
        axes.set_xticks(x, [feature["bins"][i] for i in keep], rotation=60, ha="right", fontsize=7)
        axes.set_title(f"{feature['feature']}: PSI {feature['psi']:.3f} ({feature['status']})")
        axes.set_ylabel("share of rows")
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, format="png")
    plt.close(figure)
