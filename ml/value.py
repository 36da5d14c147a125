"""What keeping a customer is worth: margin x MRR x expected remaining lifetime.

The lifetime comes from a parametric survival model (lifelines' Weibull AFT) fitted on every customer's
tenure, churned or still active (censored), with plan and segment as covariates (price is left
out: a churned customer's current MRR is zero, which would teach the model that zero MRR means churn). A customer's expected
remaining lifetime is conditional on having survived to their current tenure, discounted and capped at the
policy horizon. Whether they are worth saving is the policy's call: value x expected save rate vs the cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import WeibullAFTFitter

from ml.policy import ValuePolicy

COVARIATES = ("plan", "segment")


def _design(
    frame: pd.DataFrame, levels: dict[str, list[str]] | None = None
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    levels = levels or {c: sorted(frame[c].astype(str).unique()) for c in COVARIATES}
    out = pd.DataFrame(index=frame.index)
    for col, values in levels.items():
        for value in values[1:]:
            out[f"{col}_{value}"] = (frame[col].astype(str) == value).astype(float)
    return out, levels


class LifetimeModel:
    """Survival of customers in months, fitted once per scoring run."""

    def __init__(self, penalizer: float = 0.01) -> None:
        self.fitter = WeibullAFTFitter(penalizer=penalizer)
        self.levels: dict[str, list[str]] = {}

    def fit(self, customers: pd.DataFrame) -> LifetimeModel:
        """``customers``: tenure_months (> 0), churned (bool), plan, segment."""
        design, self.levels = _design(customers)
        design["duration"] = customers["tenure_months"].astype(float).clip(lower=0.25).to_numpy()
        design["event"] = customers["churned"].astype(bool).to_numpy()
        self.fitter.fit(design, duration_col="duration", event_col="event")
        return self

    def expected_remaining_months(self, customers: pd.DataFrame, policy: ValuePolicy) -> np.ndarray:
        """Discounted expected months still to come, given survival to the current tenure."""
        design, _ = _design(customers, self.levels)
        tenure = customers["tenure_months"].astype(float).clip(lower=0).to_numpy()
        lam = np.asarray(self.fitter.predict_median(design), dtype=float) / np.log(2) ** (1 / self._rho())
        rho = self._rho()
        months = np.arange(1, policy.horizon_months + 1, dtype=float)
        # S(t) = exp(-(t/lambda)^rho); conditional survival S(t + m) / S(t)
        s_now = np.exp(-((tenure / lam) ** rho))
        later = np.exp(-(((tenure[:, None] + months[None, :]) / lam[:, None]) ** rho))
        cond = later / np.maximum(s_now[:, None], 1e-300)
        discount = (1 + policy.monthly_discount_rate) ** -months
        return np.asarray((cond * discount[None, :]).sum(axis=1))

    def _rho(self) -> float:
        return float(np.exp(self.fitter.params_.loc[("rho_", "Intercept")]))


def customer_value(customers: pd.DataFrame, model: LifetimeModel, policy: ValuePolicy) -> pd.DataFrame:
    """Expected value of keeping each customer, and whether trying to keep them pays (the policy's rule)."""
    months = model.expected_remaining_months(customers, policy)
    value = policy.gross_margin * customers["mrr"].astype(float).to_numpy() * months
    return pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy(),
            "expected_remaining_months": np.round(months, 2),
            "customer_value": np.round(value, 2),
            "valuable": value * policy.expected_save_rate > policy.cost_of_trying,
        }
    )
