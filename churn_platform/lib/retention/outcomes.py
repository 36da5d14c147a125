"""Did the campaign work? Churn among treated vs control once the horizon has passed, with honest intervals.

Control is everyone randomised away from contact: the campaign's own control group and the standing global
holdout. Each measured decision carries the probability it was drawn with, so groups allocated with different
probabilities (adaptive allocation between arms, waves with different shares) are compared with inverse
probability weights (:func:`ml.experiment.estimate_effect`):

- ``save_rate``: control churn minus treated churn (raw, weighted difference of means; positive = churn
  avoided), with its 95% interval;
- ``save_rate_adjusted``: the same with the pre-treatment churn probability as covariate (regression
  adjustment, the CUPED form), the estimate the verdict, revenue and ROI use;
- ``revenue_retained``: the value treated customers did not take away (lost value avoided per treated
  customer, adjusted on expected loss, times the treated), with its interval; ``roi`` = (revenue - cost) /
  cost and its interval (the cost is known, so the interval maps linearly);
- ``mde`` and ``power``: the minimum detectable save rate at these sizes, and the power at the policy's
  smallest effect worth detecting; ``verdict``: works / harms / not yet measurable (the interval spans zero,
  or fewer than the policy's ``min_group_size`` treated or control customers).

:func:`campaign_outcomes` gives one row per campaign (snapshot) and breakdown; :func:`playbook_effects` pools
every measured wave per playbook and per playbook and arm, with the weeks still needed to detect the
smallest effect worth detecting at the current intake.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from churn_platform.lib.retention.policy import ExperimentPolicy
from ml.experiment import (
    NOT_MEASURABLE,
    estimate_effect,
    minimum_detectable_effect,
    power_at,
    verdict,
    weeks_to_detect,
)

MEASURED = ("treat", "control", "holdout")
DIMENSIONS = ("overall", "playbook", "intervention", "risk_tier", "value_band")
CONTROL = "control"


def _prepared(decisions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    frame = decisions[decisions["decision"].isin(MEASURED)].merge(
        labels[["customer_id", "snapshot_date", "churned"]], on=["customer_id", "snapshot_date"], how="inner"
    )
    frame = frame[frame["churned"].notna()].copy()
    if frame.empty:
        return frame
    frame["churned"] = frame["churned"].astype(bool)
    frame["treated"] = frame["decision"] == "treat"
    if "arm" not in frame.columns:  # decisions made before arms were logged
        given = (
            frame["intervention"]
            if "intervention" in frame.columns
            else pd.Series("treated", index=frame.index)
        )
        frame["arm"] = np.where(frame["treated"], given.astype(object), CONTROL)
    for column, default in (("assignment_probability", np.nan), ("control_probability", np.nan)):
        if column not in frame.columns:
            frame[column] = default
    # decisions made before probabilities were logged weigh equally
    p_control = frame["control_probability"].astype(float)
    frame["p_control"] = p_control.fillna(0.5)
    frame["p_assigned"] = frame["assignment_probability"].astype(float).fillna(0.5)
    frame["customer_value"] = frame["customer_value"].astype(float).fillna(0.0)
    if "churn_probability" not in frame.columns:
        frame["churn_probability"] = np.nan
    frame["churn_probability"] = frame["churn_probability"].astype(float)
    share = frame["customer_value"].rank(method="first", pct=True).to_numpy()
    frame["value_band"] = np.where(share <= 1 / 3, "low", np.where(share <= 2 / 3, "mid", "high"))
    frame["offer_cost"] = frame["offer_cost"].astype(float).fillna(0.0)
    return frame


def _eligible_for(arm_probabilities: pd.Series, arm: str) -> np.ndarray:
    """Control rows that could have received ``arm`` (it was among their logged arm probabilities)."""
    out = []
    for text in arm_probabilities:
        if not isinstance(text, str):
            out.append(True)  # nothing logged: assume so
            continue
        out.append(float(json.loads(text).get(arm, 0.0)) > 0)
    return np.array(out, dtype=bool)


def _measure(group: pd.DataFrame, arm: str | None, design: ExperimentPolicy) -> dict[str, float | str]:
    """Treated (or one arm) vs control of one group, weighted by inverse assignment probabilities."""
    if arm is not None:
        treated = group["arm"] == arm
        control = ~group["treated"]
        if "arm_probabilities" in group.columns:
            control &= _eligible_for(group["arm_probabilities"], arm)
        part = group[treated | control]
        is_treated = (part["arm"] == arm).to_numpy()
        w_treated = 1.0 / part["p_assigned"].clip(1e-6, 1).to_numpy()
    else:
        part = group
        is_treated = part["treated"].to_numpy()
        w_treated = 1.0 / (1 - part["p_control"]).clip(1e-6, 1).to_numpy()
    weights = np.where(is_treated, w_treated, 1.0 / part["p_control"].clip(1e-6, 1).to_numpy())
    y = part["churned"].to_numpy(dtype=float)
    p = part["churn_probability"].to_numpy(dtype=float)
    covariate = None if np.isnan(p).any() else p
    value = part["customer_value"].to_numpy(dtype=float)
    raw = estimate_effect(y, is_treated, weights, alpha=design.alpha)
    adjusted = estimate_effect(y, is_treated, weights, covariate, alpha=design.alpha)
    lost = estimate_effect(
        y * value, is_treated, weights, None if covariate is None else covariate * value, alpha=design.alpha
    )
    nt, nc = int(is_treated.sum()), int((~is_treated).sum())
    ct, cc = int(y[is_treated].sum()), int(y[~is_treated].sum())
    cost = float(part.loc[is_treated, "offer_cost"].sum())
    revenue, rev_low, rev_high = (lost.effect * nt, lost.low * nt, lost.high * nt)
    known = p[~np.isnan(p)]
    baseline = raw.control_mean if 0 < raw.control_mean < 1 else float(known.mean()) if len(known) else 0.5
    baseline = float(np.clip(baseline, 0.005, 0.995))

    def roi(amount: float) -> float:
        return (amount - cost) / cost if cost > 0 and not math.isnan(amount) else float("nan")

    big_enough = min(nt, nc) >= design.min_group_size
    outcome = verdict(adjusted.low, adjusted.high) if big_enough else NOT_MEASURABLE
    return {
        "treated": nt,
        "treated_churned": ct,
        "treated_churn_rate": ct / nt if nt else np.nan,
        "control": nc,
        "control_churned": cc,
        "control_churn_rate": cc / nc if nc else np.nan,
        "save_rate": raw.effect,
        "save_rate_low": raw.low,
        "save_rate_high": raw.high,
        "save_rate_adjusted": adjusted.effect,
        "save_rate_adjusted_low": adjusted.low,
        "save_rate_adjusted_high": adjusted.high,
        "baseline_churn_rate": baseline,
        "mde": minimum_detectable_effect(baseline, nt, nc, design.alpha, design.power),
        "power": power_at(baseline, design.minimum_effect, nt, nc, design.alpha),
        "customers_saved": adjusted.effect * nt if nt else np.nan,
        "revenue_retained": revenue,
        "revenue_retained_low": rev_low,
        "revenue_retained_high": rev_high,
        "cost": cost,
        "roi": roi(revenue),
        "roi_low": roi(rev_low),
        "roi_high": roi(rev_high),
        "verdict": outcome,
    }


def _breakdowns(frame: pd.DataFrame, keys: list[str], design: ExperimentPolicy) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for dimension in DIMENSIONS:
        if dimension == "intervention":
            groups = frame.groupby(keys, sort=True) if keys else [((), frame)]
            for key, group in groups:
                for arm in sorted(set(group.loc[group["treated"], "arm"].dropna().astype(str))):
                    rows.append({**_key(keys, key), "dimension": dimension, "segment": arm,
                                 **_measure(group, arm, design)})  # fmt: skip
            continue
        by = keys if dimension == "overall" else [*keys, dimension]
        for key, group in frame.groupby(by, sort=True) if by else [((), frame)]:
            segment = "all" if dimension == "overall" else str(_key(by, key)[dimension])
            rows.append({**_key(keys, key if dimension == "overall" else key[: len(keys)]),
                         "dimension": dimension, "segment": segment, **_measure(group, None, design)})  # fmt: skip
    return rows


def _key(keys: list[str], key: object) -> dict[str, object]:
    values = key if isinstance(key, tuple) else (key,)
    return dict(zip(keys, values, strict=False))


def campaign_outcomes(
    decisions: pd.DataFrame, labels: pd.DataFrame, design: ExperimentPolicy | None = None
) -> pd.DataFrame:
    """Per snapshot and breakdown (overall, playbook, intervention, risk tier, value band): treated vs control,
    what it saved and earned, its MDE and power, and the verdict.

    ``decisions``: customer_id, snapshot_date, decision (treat / control / holdout), playbook, risk_tier,
    customer_value, offer_cost, churn_probability, and when logged arm, assignment_probability,
    control_probability, arm_probabilities. ``labels``: customer_id, snapshot_date, churned (null while
    immature: those campaigns are left out).
    """
    design = design or ExperimentPolicy()
    frame = _prepared(decisions, labels)
    if frame.empty:
        return pd.DataFrame()
    result = pd.DataFrame(_breakdowns(frame, ["snapshot_date"], design))
    first = ["snapshot_date", "dimension", "segment"]
    return result[first + [c for c in result.columns if c not in first]]


def playbook_effects(
    decisions: pd.DataFrame,
    labels: pd.DataFrame,
    design: ExperimentPolicy | None = None,
    horizon_days: int = 30,
) -> pd.DataFrame:
    """Every measured wave pooled, per playbook (``segment`` all) and per playbook and arm: the measures of
    :func:`campaign_outcomes` plus ``waves``, ``first_snapshot``, ``last_snapshot`` and ``weeks_to_detect``
    (more weeks of intake at the pace so far until the policy's smallest effect worth detecting would make
    the interval exclude zero with the design's power; 0 once the verdict is in)."""
    design = design or ExperimentPolicy()
    frame = _prepared(decisions, labels)
    if frame.empty:
        return pd.DataFrame()
    rows = []
    for playbook, group in frame.groupby("playbook", sort=True):
        snapshots = pd.to_datetime(group["snapshot_date"])
        weeks = ((snapshots.max() - snapshots.min()).days + horizon_days) / 7
        arms = [None, *sorted(set(group.loc[group["treated"], "arm"].dropna().astype(str)))]
        for arm in arms:
            measured = _measure(group, arm, design)
            nt, nc = float(measured["treated"]), float(measured["control"])
            done = measured["verdict"] != NOT_MEASURABLE
            wait = 0.0 if done else weeks_to_detect(
                float(measured["baseline_churn_rate"]), design.minimum_effect, nt, nc, nt / weeks, nc / weeks,
                design.alpha, design.power,
            )  # fmt: skip
            rows.append({
                "playbook": str(playbook), "arm": arm or "all", "waves": int(snapshots.nunique()),
                "first_snapshot": snapshots.min(), "last_snapshot": snapshots.max(), **measured,
                "minimum_effect": design.minimum_effect, "weeks_to_detect": wait,
            })  # fmt: skip
    return pd.DataFrame(rows)


def policy_values(decisions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Offline comparison of allocation policies from the logged assignment probabilities (inverse-propensity
    scoring), per playbook over every measured wave: what a customer was worth (``customer_value`` x (1 -
    churned) - ``offer_cost``) under the policy as logged, under never contacting anyone, and under always
    sending one intervention (to those it was offered to; the others as logged).

    Columns: playbook, policy, customers, value_per_customer (self-normalised IPS), ips (plain IPS) and
    gain_vs_logged (per customer). Decisions logged without probabilities are left out.
    """
    columns = ["playbook", "policy", "customers", "value_per_customer", "ips", "gain_vs_logged"]
    frame = _prepared(decisions, labels)
    if frame.empty or frame["assignment_probability"].isna().all():
        return pd.DataFrame(columns=columns)
    frame = frame[frame["assignment_probability"].notna()]
    rows = []
    for playbook, group in frame.groupby("playbook", sort=True):
        reward = (
            group["customer_value"] * (1 - group["churned"].astype(float)) - group["offer_cost"]
        ).to_numpy()
        inverse = 1.0 / group["p_assigned"].clip(1e-6, 1).to_numpy()
        treated, arm = group["treated"].to_numpy(), group["arm"].astype(str).to_numpy()
        texts = (
            group["arm_probabilities"] if "arm_probabilities" in group else pd.Series(None, index=group.index)
        )
        offered = [json.loads(t) if isinstance(t, str) else {} for t in texts]
        # the evaluated policy's probability of each logged action over the logging policy's
        weights = {"as logged": np.ones(len(group)), "never contact": np.where(treated, 0.0, inverse)}
        for name in sorted({a for o in offered for a in o}):
            has = np.array([name in o for o in offered])
            weights[f"always {name}"] = np.where(has, np.where(arm == name, inverse, 0.0), 1.0)
        logged_value = float(reward.mean())
        for policy, weight in weights.items():
            total = float(weight.sum())
            snips = float((weight * reward).sum() / total) if total > 0 else float("nan")
            rows.append({
                "playbook": str(playbook), "policy": policy, "customers": len(group), "value_per_customer": snips,
                "ips": float((weight * reward).mean()), "gain_vs_logged": snips - logged_value,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
