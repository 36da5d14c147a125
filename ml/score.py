"""Scoring: calibrated churn probability and risk tier for every active customer, fast enough for millions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.models import ChurnModel
from ml.policy import ChurnPolicy, RiskTiers

ID_COLUMNS = ("customer_id", "snapshot_date")


def assign_tiers(probability: np.ndarray, tiers: RiskTiers) -> np.ndarray:
    """critical >= tiers.critical > high >= tiers.high > medium >= tiers.medium > low."""
    p = np.asarray(probability)
    out = np.full(len(p), "low", dtype=object)
    out[p >= tiers.medium] = "medium"
    out[p >= tiers.high] = "high"
    out[p >= tiers.critical] = "critical"
    return out


def check_scoring_columns(
    frame: pd.DataFrame, model: ChurnModel, allowed_extra: tuple[str, ...] = ID_COLUMNS
) -> None:
    """Refuse a table whose columns differ from what the model was trained on, naming the difference."""
    expected = set(model.spec.columns)
    missing = [c for c in model.spec.columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected and c not in allowed_extra]
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    if problems:
        raise ValueError(
            "the scoring table does not match the model's features: " + "; ".join(problems) + ". "
            "Retrain the model on the current feature mart, or score the table the model was trained for."
        )


def score_frame(
    model: ChurnModel, frame: pd.DataFrame, policy: ChurnPolicy, model_version: str
) -> pd.DataFrame:
    """Probability, tier and provenance (model and policy versions) for each row of the scoring set."""
    check_scoring_columns(frame, model)
    probability = model.predict_proba(frame)
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "snapshot_date": frame["snapshot_date"].to_numpy(),
            "churn_probability": np.round(probability, 6),
            "risk_tier": assign_tiers(probability, policy.risk_tiers),
        }
    )
    out["model_version"] = str(model_version)
    out["policy_version"] = policy.version
    return out
