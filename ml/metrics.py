"""Model quality as the people who act on a churn model judge it.

Ranking (ROC-AUC, PR-AUC), probability quality (Brier, log-loss, expected calibration error), what a
retention team sees when it calls the riskiest decile (lift, recall) and what the campaign is worth:
Expected Maximum Profit (Verbraken, Verbeke & Baesens, IEEE TKDE 25(5), 2013).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score, roc_curve


@dataclass(frozen=True)
class EMPParameters:
    """The literature's defaults: acceptance rate ~ Beta(6, 14), CLV 200, incentive 10, contact 1."""

    alpha: float = 6.0
    beta: float = 14.0
    clv: float = 200.0
    incentive: float = 10.0
    contact: float = 1.0


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted and observed churn over equal-width probability bins, weighted by size."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def lift_and_recall_at(y: np.ndarray, p: np.ndarray, fraction: float = 0.1) -> tuple[float, float]:
    """Churn rate among the top ``fraction`` by score over the base rate, and the share of churners caught."""
    y = np.asarray(y, dtype=float)
    n = max(1, round(len(y) * fraction))
    top = np.argsort(-np.asarray(p), kind="stable")[:n]
    base = y.mean()
    if base == 0:
        return 0.0, 0.0
    return float(y[top].mean() / base), float(y[top].sum() / y.sum())


def expected_maximum_profit(
    y: np.ndarray, p: np.ndarray, params: EMPParameters | None = None, grid: int = 400
) -> tuple[float, float]:
    """EMP per customer and the share of customers the optimal campaign targets.

    For each acceptance rate gamma, the campaign picks the threshold that maximises
    CLV(gamma(1 - delta) - phi) pi1 TPR - CLV(delta + phi) pi0 FPR (churners are the positive class here);
    EMP integrates that maximum over gamma's Beta distribution.
    """
    params = params or EMPParameters()
    y = np.asarray(y, dtype=int)
    pi1 = y.mean()
    pi0 = 1 - pi1
    fpr, tpr, _ = roc_curve(y, p)
    delta = params.incentive / params.clv
    phi = params.contact / params.clv
    gammas = (np.arange(grid) + 0.5) / grid
    weights = stats.beta.pdf(gammas, params.alpha, params.beta) / grid
    gain = params.clv * (gammas[:, None] * (1 - delta) - phi) * pi1 * tpr[None, :]
    cost = params.clv * (delta + phi) * pi0 * fpr[None, :]
    profit = gain - cost  # (gamma, threshold)
    best = profit.argmax(axis=1)
    emp = float((profit[np.arange(grid), best] * weights).sum())
    targeted = pi1 * tpr[best] + pi0 * fpr[best]
    return emp, float((targeted * weights).sum() / weights.sum())


def evaluate(y: np.ndarray, p: np.ndarray, emp: EMPParameters | None = None) -> dict[str, float]:
    """Every metric the platform logs for a model, on one labelled set."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    lift, recall = lift_and_recall_at(y, p, 0.1)
    emp_value, emp_share = expected_maximum_profit(y, p, emp)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "lift_top_decile": lift,
        "recall_top_decile": recall,
        "emp": emp_value,
        "emp_targeted_share": emp_share,
        "positives": float(y.sum()),
        "rows": float(len(y)),
    }
