"""The plots an ML engineer looks at before trusting a churn model, saved as PNG for MLflow."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_plot(
    y: np.ndarray, p: np.ndarray, path: Path, oracle: tuple[np.ndarray, np.ndarray] | None = None
) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, label="model")
    if oracle is not None:
        ofpr, otpr, _ = roc_curve(*oracle)
        ax.plot(ofpr, otpr, linestyle=":", label="oracle (true probability)")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 5))
    precision, recall, _ = precision_recall_curve(y, p)
    ax.plot(recall, precision)
    ax.axhline(np.mean(y), color="grey", linestyle="--", linewidth=0.8, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend()
    return _save(fig, path)


def calibration_plot(y: np.ndarray, p: np.ndarray, path: Path, bins: int = 10) -> Path:
    frame = pd.DataFrame({"y": y, "p": p})
    frame["bin"] = pd.qcut(frame["p"], q=bins, duplicates="drop")
    grouped = frame.groupby("bin", observed=True).agg(predicted=("p", "mean"), observed=("y", "mean"))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(grouped["predicted"], grouped["observed"], marker="o", label="model")
    top = max(grouped["predicted"].max(), grouped["observed"].max()) * 1.05
    ax.plot([0, top], [0, top], color="grey", linestyle="--", linewidth=0.8, label="perfect")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate", title="Calibration (deciles)")
    ax.legend()
    return _save(fig, path)


def lift_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    order = np.argsort(-p, kind="stable")
    deciles = np.array_split(np.asarray(y)[order], 10)
    base = np.mean(y)
    lift = [d.mean() / base if base else 0 for d in deciles]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(range(1, 11), lift)
    ax.axhline(1, color="grey", linestyle="--", linewidth=0.8)
    ax.set(
        xlabel="decile by predicted risk (1 = riskiest)", ylabel="lift over base rate", title="Lift by decile"
    )
    ax.set_xticks(range(1, 11))
    return _save(fig, path)


def importance_plot(importance: pd.Series, path: Path, top: int = 20) -> Path:
    head = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(head) + 1.2))
    ax.barh(head.index.astype(str), head.to_numpy())
    ax.set(xlabel="importance", title="Feature importance")
    return _save(fig, path)


def all_plots(
    y: np.ndarray,
    p: np.ndarray,
    importance: pd.Series,
    folder: Path,
    oracle: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Path]:
    """Every evaluation plot into ``folder``; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        roc_plot(y, p, folder / "roc.png", oracle),
        pr_plot(y, p, folder / "precision_recall.png"),
        calibration_plot(y, p, folder / "calibration.png"),
        lift_plot(y, p, folder / "lift.png"),
        importance_plot(importance, folder / "feature_importance.png"),
    ]
