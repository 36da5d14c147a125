"""Did the campaign work? Churn among treated vs control once the horizon has passed, with honest intervals.

The incremental save rate is control churn minus treated churn; its 95% interval is Newcombe's hybrid score
interval (Wilson intervals combined), which stays sensible for the small control groups campaigns have.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def save_rate_interval(
    control_churned: int, n_control: int, treated_churned: int, n_treated: int
) -> tuple[float, float, float]:
    """Control churn rate minus treated churn rate, with Newcombe's 95% interval."""
    if n_control == 0 or n_treated == 0:
        return (float("nan"), float("nan"), float("nan"))
    pc, pt = control_churned / n_control, treated_churned / n_treated
    lc, uc = wilson(control_churned, n_control)
    lt, ut = wilson(treated_churned, n_treated)
    diff = pc - pt
    lower = diff - math.sqrt((pc - lc) ** 2 + (ut - pt) ** 2)
    upper = diff + math.sqrt((uc - pc) ** 2 + (pt - lt) ** 2)
    return (diff, lower, upper)


def _summarise(group: pd.DataFrame) -> pd.Series:
    treated = group[group["decision"] == "treat"]
    control = group[group["decision"] == "control"]
    nt, nc = len(treated), len(control)
    ct, cc = int(treated["churned"].sum()), int(control["churned"].sum())
    diff, lower, upper = save_rate_interval(cc, nc, ct, nt)
    mean_value = float(treated["customer_value"].mean()) if nt else 0.0
    saved = diff * nt if not math.isnan(diff) else float("nan")
    revenue = saved * mean_value if not math.isnan(saved) else float("nan")
    cost = float(treated["offer_cost"].sum())
    return pd.Series(
        {
            "treated": nt,
            "treated_churned": ct,
            "treated_churn_rate": ct / nt if nt else np.nan,
            "control": nc,
            "control_churned": cc,
            "control_churn_rate": cc / nc if nc else np.nan,
            "save_rate": diff,
            "save_rate_low": lower,
            "save_rate_high": upper,
            "customers_saved": saved,
            "revenue_retained": revenue,
            "cost": cost,
            "roi": (revenue - cost) / cost if cost and not math.isnan(revenue) else np.nan,
        }
    )


def campaign_outcomes(decisions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Per snapshot and breakdown (overall, playbook, tier, value band): treated vs control and what it earned.

    ``decisions``: customer_id, snapshot_date, decision, playbook, risk_tier, customer_value, offer_cost.
    ``labels``: customer_id, snapshot_date, churned (null while immature: those campaigns are left out).
    """
    frame = decisions[decisions["decision"].isin(["treat", "control"])].merge(
        labels[["customer_id", "snapshot_date", "churned"]], on=["customer_id", "snapshot_date"], how="inner"
    )
    frame = frame[frame["churned"].notna()].copy()
    if frame.empty:
        return pd.DataFrame()
    frame["churned"] = frame["churned"].astype(bool)
    # thirds by value rank (robust to ties and to campaigns of one or two customers)
    share = frame["customer_value"].fillna(0.0).rank(method="first", pct=True).to_numpy()
    frame["value_band"] = np.where(share <= 1 / 3, "low", np.where(share <= 2 / 3, "mid", "high"))
    parts = []
    for dimension in ("overall", "playbook", "risk_tier", "value_band"):
        keys = ["snapshot_date"] if dimension == "overall" else ["snapshot_date", dimension]
        out = frame.groupby(keys).apply(_summarise, include_groups=False).reset_index()  # type: ignore[call-overload]
        out["dimension"] = dimension
        out["segment"] = "all" if dimension == "overall" else out[dimension].astype(str)
        parts.append(out.drop(columns=[] if dimension == "overall" else [dimension]))
    result = pd.concat(parts, ignore_index=True)
    return result[
        [
            "snapshot_date",
            "dimension",
            "segment",
            *[c for c in result if c not in {"snapshot_date", "dimension", "segment"}],
        ]
    ]
