"""Scoring: calibrated churn probability and risk tier for every active customer, fast enough for millions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.models import ChurnModel
from ml.policy import ChurnPolicy
from ml.tiers import assign_tiers, tier_cutoffs, tier_notes, tier_table

ID_COLUMNS = ("customer_id", "snapshot_date")
PROBABILITY_DECIMALS = 6

__all__ = ["ID_COLUMNS", "Scored", "assign_tiers", "check_scoring_columns", "score_frame", "tier_cutoffs"]


@dataclass
class Scored:
    """Scores of one run with the tier cut-offs they were tiered by.

    ``scores``: customer_id, snapshot_date, churn_probability (rounded to 6 decimals; the tiers are computed
    from these rounded values, so ``assign_tiers(scores.churn_probability, cutoffs)`` gives back
    ``scores.risk_tier``), risk_tier, model_version, policy_version. ``cutoffs``: tier -> inclusive lower
    bound. ``tiers``: one row per tier (:func:`ml.tiers.tier_table`). ``notes``: why a tier is empty or off
    its share, in words.
    """

    scores: pd.DataFrame
    cutoffs: dict[str, float]
    tiers: pd.DataFrame
    notes: list[str] = field(default_factory=list)


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
    model: ChurnModel,
    frame: pd.DataFrame,
    policy: ChurnPolicy,
    model_version: str,
    cutoffs: Mapping[str, float] | None = None,
) -> Scored:
    """Probability, tier and provenance (model and policy versions) for each row of the scoring set.

    The tier cut-offs come from the policy's ``risk_tiers`` applied to this frame's probabilities, unless
    ``cutoffs`` are given (e.g. those recorded for the snapshot, to tier a few customers exactly as the batch
    run did). Raises ValueError when the frame's columns differ from the model's.
    """
    check_scoring_columns(frame, model, (*ID_COLUMNS, *model.spec.left_out_columns))
    probability = np.round(model.predict_proba(frame), PROBABILITY_DECIMALS)
    used = dict(cutoffs) if cutoffs is not None else tier_cutoffs(probability, policy.risk_tiers)
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].to_numpy(),
            "snapshot_date": frame["snapshot_date"].to_numpy(),
            "churn_probability": probability,
            "risk_tier": assign_tiers(probability, used),
        }
    )
    out["model_version"] = str(model_version)
    out["policy_version"] = policy.version
    return Scored(
        out,
        used,
        tier_table(probability, policy.risk_tiers, used),
        tier_notes(probability, policy.risk_tiers, used),
    )
