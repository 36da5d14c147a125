"""Why a customer is at risk, in words a product manager reads, from CatBoost's SHAP values.

SHAP values are computed only for the customers someone will act on (SHAP runs at roughly 12k rows/s on
two cores, prediction at about 1M rows/s). A reason is a feature that pushes this customer's risk up; it
is worded from the customer's own values, so "logins down 45% in the last 30 days" is about them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ml.models import ChurnModel


def shap_values(model: ChurnModel, frame: pd.DataFrame, threads: int = 2) -> np.ndarray:
    """Per-row, per-feature SHAP values (log-odds) of a CatBoost model, in the model's column order."""
    if model.kind != "catboost":
        raise ValueError(f"reasons come from CatBoost's SHAP values; got a {model.kind} model")
    from catboost import Pool

    X = model.spec.check(frame, "the table to explain")
    pool = Pool(X, cat_features=list(model.spec.categorical))
    values = model.estimator.get_feature_importance(pool, type="ShapValues", thread_count=threads)
    return np.asarray(values[:, :-1])  # the last column is the expected value


def _num(row: pd.Series, name: str) -> float | None:
    value: Any = row.get(name)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _plural(n: float, word: str) -> str:
    k = round(n)
    return f"{k} {word}{'' if k == 1 else 's'}"


def _usage_decline(row: pd.Series) -> str | None:
    d = _num(row, "usage_decline_pct")
    if d is None:
        return None
    return f"usage down {abs(d):.0f}% in the last 30 days" if d > 0 else None


def _tickets(row: pd.Series) -> str | None:
    n = _num(row, "unresolved_tickets") or 0
    if n <= 0:
        return None
    age = _num(row, "oldest_unresolved_ticket_days")
    return f"{_plural(n, 'unresolved ticket')}" + (f", oldest {age:.0f} days" if age is not None else "")


TEMPLATES: dict[str, Callable[[pd.Series], str | None]] = {
    "usage_decline_pct": _usage_decline,
    "events_30d": lambda r: (
        f"only {_plural(_num(r, 'events_30d') or 0, 'product event')} in the last 30 days"
    ),
    "logins_30d": lambda r: f"only {_plural(_num(r, 'logins_30d') or 0, 'login')} in the last 30 days",
    "sessions_30d": lambda r: f"only {_plural(_num(r, 'sessions_30d') or 0, 'session')} in the last 30 days",
    "feature_uses_30d": lambda r: (
        f"used features {_plural(_num(r, 'feature_uses_30d') or 0, 'time')} in 30 days"
    ),
    "distinct_features_30d": lambda r: (
        f"uses {_plural(_num(r, 'distinct_features_30d') or 0, 'feature')} of the product"
    ),
    "days_since_last_login": lambda r: f"no login for {(_num(r, 'days_since_last_login') or 0):.0f} days",
    "days_since_last_feature_use": lambda r: (
        f"no feature used for {(_num(r, 'days_since_last_feature_use') or 0):.0f} days"
    ),
    "unresolved_tickets": _tickets,
    "oldest_unresolved_ticket_days": _tickets,
    "escalations_30d": lambda r: (
        f"{_plural(_num(r, 'escalations_30d') or 0, 'escalated ticket')} in the last 30 days"
    ),
    "tickets_30d": lambda r: f"{_plural(_num(r, 'tickets_30d') or 0, 'support ticket')} in the last 30 days",
    "failed_payments_90d": lambda r: (
        f"{_plural(_num(r, 'failed_payments_90d') or 0, 'failed payment')} in the last 90 days"
    ),
    "late_payments_90d": lambda r: (
        f"{_plural(_num(r, 'late_payments_90d') or 0, 'late payment')} in the last 90 days"
    ),
    "latest_nps": lambda r: (
        f"last NPS score {(_num(r, 'latest_nps') or 0):.0f}"
        + (" (detractor)" if (_num(r, "latest_nps") or 10) <= 6 else "")
    ),
    "nps_trend": lambda r: (
        f"NPS fell by {abs(_num(r, 'nps_trend') or 0):.0f} points"
        if (_num(r, "nps_trend") or 0) < 0
        else None
    ),
    "onboarding_completed": lambda r: (
        "onboarding not completed" if not _num(r, "onboarding_completed") else None
    ),
    "days_to_onboard": lambda r: f"took {(_num(r, 'days_to_onboard') or 0):.0f} days to onboard",
    "tenure_days": lambda r: f"customer for only {(_num(r, 'tenure_days') or 0):.0f} days",
    "mrr_change_3m_pct": lambda r: (
        f"MRR down {abs(_num(r, 'mrr_change_3m_pct') or 0):.0f}% over 3 months"
        if (_num(r, "mrr_change_3m_pct") or 0) < 0
        else None
    ),
    "downgrades_90d": lambda r: f"{_plural(_num(r, 'downgrades_90d') or 0, 'downgrade')} in the last 90 days",
    "mrr": lambda r: f"pays {(_num(r, 'mrr') or 0):,.0f} a month",
    "plan": lambda r: f"on the {r.get('plan')} plan",
    "segment": lambda r: f"{str(r.get('segment')).replace('_', '-')} customer",
}


def describe(feature: str, row: pd.Series) -> str | None:
    """A feature's contribution in words, or None when there is nothing risky to say about it."""
    template = TEMPLATES.get(feature)
    if template is not None:
        return template(row)
    value: Any = row.get(feature)
    return f"{feature.replace('_', ' ')} is {value}"


def top_reasons(
    model: ChurnModel, frame: pd.DataFrame, k: int = 3, threads: int = 2
) -> tuple[list[list[str]], np.ndarray]:
    """The k features that raise each customer's risk most, in words, plus the SHAP matrix behind them.

    ``threads``: CatBoost threads for the SHAP values (the real-time API uses one per server process).
    """
    values = shap_values(model, frame, threads)
    columns = model.spec.columns
    reasons: list[list[str]] = []
    rows = frame.reset_index(drop=True)
    order = np.argsort(-values, axis=1)
    for i in range(len(rows)):
        row = rows.iloc[i]
        said: list[str] = []
        for j in order[i]:
            if values[i, j] <= 0 or len(said) >= k:
                break
            text = describe(columns[j], row)
            if text and text not in said:
                said.append(text)
        reasons.append(said)
    return reasons, values


def strongest_feature(values: np.ndarray, columns: list[str]) -> list[str | None]:
    """Per row, the feature that raises risk most (None when nothing does): it decides the churn factor."""
    best = values.argmax(axis=1)
    return [columns[j] if values[i, j] > 0 else None for i, j in enumerate(best)]
