"""Experiment design and analysis for retention campaigns: how big a campaign must be, and what it did.

Design (before launch), for a churn outcome at a baseline rate: the minimum detectable effect (MDE) of a
campaign with given treated and control sizes, the power at a given effect, the sizes an effect needs, and the
weeks of intake still needed before an interval can exclude zero. The arithmetic is statsmodels'
(``NormalIndPower`` on Cohen's h, the arcsine-transformed difference of two proportions), two-sided.

Analysis (after the churn horizon): the effect of treatment on churn, as the save rate (control churn minus
treated churn, so a positive number is churn avoided), from a weighted least-squares regression with
heteroskedasticity-robust (HC2) standard errors (statsmodels):

- weights are inverse assignment probabilities, so customers allocated with different probabilities (adaptive
  allocation, waves with different control shares, a global holdout) pool into one unbiased estimate of the
  average effect over everyone who could have been treated (Hajek's estimator); with equal probabilities the
  raw estimate is the plain difference of churn rates and its Neyman (Welch) standard error;
- the adjusted estimate adds the pre-treatment churn probability as a covariate, centred and interacted with
  treatment (Lin 2013, the regression form of CUPED): same target, smaller variance, no bias from the model's
  miscalibration because the covariate is fixed before assignment.

Nothing here knows a company: outcomes, covariates and weights are plain arrays.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm
from statsmodels.regression.linear_model import WLS
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

_POWER = NormalIndPower()
NOT_MEASURABLE = "not yet measurable"
WORKS = "works"
HARMS = "harms"


def _check_rate(baseline: float) -> None:
    if not 0.0 < baseline < 1.0:
        raise ValueError(f"baseline churn rate must be in (0, 1), got {baseline}")


def _rate_below(baseline: float, h: float) -> float:
    """The treated churn rate at Cohen's h below ``baseline`` (0 when the effect would exceed it)."""
    angle = math.asin(math.sqrt(baseline)) - h / 2
    return math.sin(angle) ** 2 if angle > 0 else 0.0


def minimum_detectable_effect(
    baseline: float, n_treated: float, n_control: float, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest save rate (absolute reduction of the churn rate below ``baseline``) that a two-sided test
    at ``alpha`` detects with ``power``, for these group sizes. NaN when a group is empty; may exceed the
    baseline itself when groups are tiny (then no reduction is detectable)."""
    _check_rate(baseline)
    if n_treated < 1 or n_control < 1:
        return float("nan")
    h = float(
        _POWER.solve_power(
            effect_size=None, nobs1=n_treated, alpha=alpha, power=power, ratio=n_control / n_treated
        )
    )
    angle = math.asin(math.sqrt(baseline)) - h / 2
    if angle <= 0:  # beyond what a churn rate can fall: report it on the arcsine scale's straight line
        return baseline + (-angle) * 2 * math.sqrt(baseline * (1 - baseline))
    return baseline - _rate_below(baseline, h)


def power_at(
    baseline: float, effect: float, n_treated: float, n_control: float, alpha: float = 0.05
) -> float:
    """Probability that a campaign of these sizes detects a true save rate ``effect`` (two-sided ``alpha``)."""
    _check_rate(baseline)
    if n_treated < 1 or n_control < 1:
        return float("nan")
    treated_rate = min(max(baseline - effect, 1e-9), 1 - 1e-9)
    h = abs(float(proportion_effectsize(baseline, treated_rate)))
    return float(_POWER.power(effect_size=h, nobs1=n_treated, alpha=alpha, ratio=n_control / n_treated))


def sample_size(
    baseline: float, effect: float, alpha: float = 0.05, power: float = 0.8, control_ratio: float = 1.0
) -> tuple[int, int]:
    """(treated, control) customers needed to detect ``effect`` with ``power``; ``control_ratio`` is
    control / treated. Rounded up."""
    _check_rate(baseline)
    if not 0.0 < effect < baseline:
        raise ValueError(f"effect must be in (0, baseline={baseline}), got {effect}")
    h = float(proportion_effectsize(baseline, baseline - effect))
    n1 = float(_POWER.solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power, ratio=control_ratio))
    return math.ceil(n1), math.ceil(n1 * control_ratio)


def control_needed(
    baseline: float, effect: float, n_treated: float, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Control customers that, beside ``n_treated`` treated ones, detect ``effect`` with ``power``; None when
    no control group is large enough (the treated group alone is too small)."""
    _check_rate(baseline)
    if not 0.0 < effect < baseline or n_treated < 1:
        return None
    h = float(proportion_effectsize(baseline, baseline - effect))
    # with an infinite control group the treated group's variance alone must fit
    if _POWER.power(effect_size=h, nobs1=n_treated, alpha=alpha, ratio=1e9) < power:
        return None
    ratio = float(_POWER.solve_power(effect_size=h, nobs1=n_treated, alpha=alpha, power=power, ratio=None))
    return math.ceil(ratio * n_treated)


def weeks_to_detect(
    baseline: float,
    effect: float,
    n_treated: float,
    n_control: float,
    treated_per_week: float,
    control_per_week: float,
    alpha: float = 0.05,
    power: float = 0.8,
    max_weeks: float = 520.0,
) -> float:
    """More weeks of intake (at these rates) until an effect of ``effect`` would make the interval exclude zero
    with ``power``: 0 when the groups are already large enough, inf when intake stops or it would take more
    than ``max_weeks``."""
    _check_rate(baseline)
    if effect <= 0 or effect >= baseline:
        return float("inf")

    def enough(weeks: float) -> bool:
        nt, nc = n_treated + treated_per_week * weeks, n_control + control_per_week * weeks
        return nt >= 1 and nc >= 1 and power_at(baseline, effect, nt, nc, alpha) >= power

    if enough(0.0):
        return 0.0
    if (treated_per_week <= 0 and control_per_week <= 0) or not enough(max_weeks):
        return float("inf")
    low, high = 0.0, max_weeks
    while high - low > 0.05:
        mid = (low + high) / 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return math.ceil(high * 10) / 10


@dataclass(frozen=True)
class Estimate:
    """A save rate (control minus treated mean of the outcome; for churn, churn avoided per treated customer)
    with its standard error and 1 - alpha interval; ``treated_mean`` and ``control_mean`` are the weighted
    means. NaN when either group has fewer than two customers."""

    effect: float
    se: float
    low: float
    high: float
    treated_mean: float
    control_mean: float
    n_treated: int
    n_control: int

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items()}


def _nan_estimate(n_treated: int, n_control: int) -> Estimate:
    nan = float("nan")
    return Estimate(nan, nan, nan, nan, nan, nan, n_treated, n_control)


def estimate_effect(
    outcome: np.ndarray,
    treated: np.ndarray,
    weights: np.ndarray | None = None,
    covariate: np.ndarray | None = None,
    alpha: float = 0.05,
) -> Estimate:
    """Save rate of ``treated`` vs the others on ``outcome`` (1 = churned, or any lost amount).

    ``weights``: inverse assignment probabilities (None: all equal). ``covariate``: a pre-treatment
    prediction of the outcome (the churn probability at the decision) for the adjusted (CUPED) estimate;
    None gives the raw estimate. Shapes: one value per customer. Raises ValueError on mismatched lengths or
    non-positive weights.
    """
    y = np.asarray(outcome, dtype=float)
    t = np.asarray(treated, dtype=bool)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if not len(y) == len(t) == len(w) or (covariate is not None and len(covariate) != len(y)):
        raise ValueError("outcome, treated, weights and covariate must have one value per customer")
    if len(w) and (not np.all(np.isfinite(w)) or w.min() <= 0):
        raise ValueError("weights must be positive (inverse assignment probabilities)")
    n_t, n_c = int(t.sum()), int((~t).sum())
    if n_t < 2 or n_c < 2:
        return _nan_estimate(n_t, n_c)
    columns = [np.ones(len(y)), t.astype(float)]
    if covariate is not None:
        x = np.asarray(covariate, dtype=float)
        centred = x - np.average(x, weights=w)
        if np.ptp(centred[t]) > 1e-12 and np.ptp(centred[~t]) > 1e-12:
            columns += [centred, centred * t]
    design = np.column_stack(columns)
    with warnings.catch_warnings():  # a group of identical outcomes has leverage 1: its HC2 error is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = WLS(y, design, weights=w).fit(cov_type="HC2")
        coef, se = -float(fit.params[1]), float(fit.bse[1])
    if not np.isfinite(se):
        return _nan_estimate(n_t, n_c)
    z = float(norm.ppf(1 - alpha / 2))
    return Estimate(
        effect=coef,
        se=se,
        low=coef - z * se,
        high=coef + z * se,
        treated_mean=float(np.average(y[t], weights=w[t])),
        control_mean=float(np.average(y[~t], weights=w[~t])),
        n_treated=n_t,
        n_control=n_c,
    )


def verdict(low: float, high: float) -> str:
    """``works`` (the interval lies above zero), ``harms`` (below zero) or ``not yet measurable``."""
    if math.isnan(low) or math.isnan(high):
        return NOT_MEASURABLE
    if low > 0:
        return WORKS
    if high < 0:
        return HARMS
    return NOT_MEASURABLE


def ips_value(reward: np.ndarray, logged_probability: np.ndarray, matches: np.ndarray) -> tuple[float, float]:
    """Offline value of another policy from logged decisions (inverse-propensity scoring).

    ``reward``: what each logged decision earned (e.g. value kept minus cost); ``logged_probability``: the
    probability with which the logged action was taken; ``matches``: the probability that the evaluated
    policy takes the logged action (1/0 for a deterministic one). Returns (IPS, self-normalised IPS) mean
    reward per decision.
    """
    r = np.asarray(reward, dtype=float)
    p = np.asarray(logged_probability, dtype=float)
    m = np.asarray(matches, dtype=float)
    if len(r) == 0:
        return float("nan"), float("nan")
    if p.min() <= 0:
        raise ValueError("logged probabilities must be positive")
    ratio = m / p
    ips = float(np.mean(ratio * r))
    snips = float(np.sum(ratio * r) / np.sum(ratio)) if ratio.sum() > 0 else float("nan")
    return ips, snips
