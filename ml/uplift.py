"""Who is persuadable: a two-model (T-learner) estimate of each intervention's effect on churn.

For each intervention, one model learns churn among customers who received it and one among the randomised
control customers who would have received it; the uplift is the churn they are expected to avoid:
P(churn | control, x) - P(churn | treated, x). Judged with the Qini coefficient and the area under the uplift
curve on held-out customers, since no single customer's effect is ever observed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.models import ChurnModel, FeatureSpec, fit_model


def uplift_curve(
    retained: np.ndarray, treated: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative incremental retained customers when targeting by descending score (the Qini curve)."""
    order = np.argsort(-score, kind="stable")
    y, t = np.asarray(retained, dtype=float)[order], np.asarray(treated, dtype=bool)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = y_t - np.where(n_c > 0, y_c * n_t / n_c, 0.0)
    fraction = np.arange(1, len(y) + 1) / len(y)
    return fraction, qini


def qini_coefficient(retained: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(Qini coefficient, AUUC): area between the Qini curve and random targeting, and under the curve,
    both per customer so datasets of different sizes compare."""
    fraction, qini = uplift_curve(retained, treated, score)
    n = len(qini)
    auuc = float(np.trapezoid(qini, fraction)) / n
    random_line = fraction * qini[-1]
    coefficient = float(np.trapezoid(qini - random_line, fraction)) / n
    return coefficient, auuc


@dataclass
class UpliftModel:
    """One T-learner per intervention that has enough treated and control history."""

    spec: FeatureSpec
    learners: dict[str, tuple[ChurnModel, ChurnModel]] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """customer_id plus ``uplift_<intervention>``: expected reduction in churn probability."""
        out = pd.DataFrame({"customer_id": frame["customer_id"].to_numpy()})
        for kind, (treated_model, control_model) in self.learners.items():
            out[f"uplift_{kind}"] = control_model.predict_proba(frame) - treated_model.predict_proba(frame)
        return out


def fit_uplift(
    history: pd.DataFrame,
    spec: FeatureSpec,
    min_treated: int = 100,
    min_control: int = 50,
    holdout: float = 0.3,
    seed: int = 42,
) -> UpliftModel:
    """``history``: features plus ``intervention``, ``treated`` (bool) and ``churned`` (bool), one row per
    customer and campaign. Interventions without enough randomised history are skipped (and reported)."""
    model = UpliftModel(spec)
    rng = np.random.default_rng(seed)
    for kind, rows in history.groupby("intervention"):
        treated = rows[rows["treated"]]
        control = rows[~rows["treated"]]
        if len(treated) < min_treated or len(control) < min_control:
            model.metrics[str(kind)] = {
                "skipped": 1.0,
                "treated": float(len(treated)),
                "control": float(len(control)),
            }
            continue
        test_mask = rng.random(len(rows)) < holdout
        train, test = rows[~test_mask], rows[test_mask]
        learners = []
        for arm in (True, False):
            part = train[train["treated"] == arm]
            y = part["churned"].astype(int).to_numpy()
            if y.sum() == 0 or y.sum() == len(y):
                break
            learners.append(fit_model("logistic_regression", spec, part, y, seed=seed))
        if len(learners) < 2:
            model.metrics[str(kind)] = {
                "skipped": 1.0,
                "treated": float(len(treated)),
                "control": float(len(control)),
            }
            continue
        treated_model, control_model = learners
        learners_for_kind = (treated_model, control_model)
        score = control_model.predict_proba(test) - treated_model.predict_proba(test)
        qini, auuc = qini_coefficient(
            1 - test["churned"].astype(int).to_numpy(), test["treated"].to_numpy(dtype=bool), score
        )
        model.learners[str(kind)] = learners_for_kind
        model.metrics[str(kind)] = {
            "qini": qini,
            "auuc": auuc,
            "treated": float(len(treated)),
            "control": float(len(control)),
            "mean_uplift": float(np.mean(score)),
        }
    return model
