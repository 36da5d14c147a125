"""Risk tiers relative to the company: the policy's method turned into probability cut-offs.

A scoring run computes one probability cut-off per tier from the probabilities it scored
(:func:`tier_cutoffs`), tiers every customer by them (:func:`assign_tiers`) and records them, so a single
customer scored later (a real-time API) is tiered by exactly the same cut-offs. Empty tiers, and rank tiers
that ties pushed off their share, are explained in words (:func:`tier_notes`).

Cut-offs are inclusive lower bounds: a customer whose probability is at or above ``cutoffs["critical"]`` is
critical, else at or above ``cutoffs["high"]`` high, else at or above ``cutoffs["medium"]`` medium, else low.
They never rise from critical to medium. A cut-off of ``inf`` means nobody can reach the tier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ml.policy import RANKED_TIERS, RiskTiers

TIER_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}


def _clean(probabilities: np.ndarray | pd.Series | list[float]) -> np.ndarray:
    p = np.asarray(probabilities, dtype=float)
    return p[~np.isnan(p)]


def _target_count(share: float, n: int) -> int:
    """Customers a top share holds: rounded half up, at least one (a 1% tier of 50 customers holds one)."""
    return min(n, max(1, math.floor(share * n + 0.5)))


def _rank_cutoff(descending: np.ndarray, k: int) -> float:
    """The probability cut-off whose tier holds the number of customers closest to ``k``.

    Customers of equal probability are never split (one cut-off tiers them all alike): with ties at the k-th
    place, the tied customers all go in or all stay out, whichever leaves the tier closer to ``k`` (all in when
    both are as close). The rule reads only the probabilities, never the row order: the same scores always give
    the same cut-off.
    """
    v = descending[k - 1]
    ascending_negated = -descending
    at_or_above = int(np.searchsorted(ascending_negated, -v, side="right"))
    above = int(np.searchsorted(ascending_negated, -v, side="left"))
    if at_or_above == k or above == 0:
        return float(v)
    if k - above < at_or_above - k:
        return float(descending[above - 1])  # the smallest probability above the tied ones
    return float(v)


def tier_cutoffs(probabilities: np.ndarray | pd.Series | list[float], tiers: RiskTiers) -> dict[str, float]:
    """Probability cut-offs ``{"critical": c, "high": h, "medium": m}`` (c >= h >= m) for these scores.

    ``probabilities``: calibrated churn probabilities of every scored customer (NaN ignored). ``absolute``
    returns the policy's thresholds; ``rank`` the probability at which the riskiest share begins (see
    :func:`_rank_cutoff` for ties); ``lift`` the multiple of the mean probability (possibly above 1, then the
    tier cannot be reached). With no probabilities every cut-off is ``inf``, except under ``absolute``.
    """
    p = _clean(probabilities)
    out: dict[str, float] = {}
    if tiers.method == "absolute":
        out = {t: tiers.parameter(t) for t in RANKED_TIERS}
    elif len(p) == 0:
        out = dict.fromkeys(RANKED_TIERS, math.inf)
    elif tiers.method == "lift":
        base = float(p.mean())
        out = {t: tiers.parameter(t) * base for t in RANKED_TIERS}
    elif tiers.method == "rank":
        descending = np.sort(p)[::-1]
        out = {t: _rank_cutoff(descending, _target_count(tiers.parameter(t), len(p))) for t in RANKED_TIERS}
    else:  # pragma: no cover - the policy validates the method
        raise ValueError(f"unknown risk tier method {tiers.method!r}")
    # a lower tier never needs more than the tier above it
    out["high"] = min(out["high"], out["critical"])
    out["medium"] = min(out["medium"], out["high"])
    return out


def assign_tiers(
    probability: np.ndarray | pd.Series | list[float] | float, cutoffs: Mapping[str, float]
) -> np.ndarray:
    """The tier of each probability under the cut-offs (see the module docstring); NaN is low.

    Works for one customer (a float) as for millions; ``cutoffs`` is what :func:`tier_cutoffs` returned (or
    what ``ml.tier_cutoffs`` recorded for the snapshot).
    """
    missing = [t for t in RANKED_TIERS if t not in cutoffs]
    if missing:
        raise ValueError(f"tier cut-offs lack {', '.join(missing)}; expected {', '.join(RANKED_TIERS)}")
    p = np.atleast_1d(np.asarray(probability, dtype=float))
    out = np.full(len(p), "low", dtype=object)
    with np.errstate(invalid="ignore"):
        out[p >= cutoffs["medium"]] = "medium"
        out[p >= cutoffs["high"]] = "high"
        out[p >= cutoffs["critical"]] = "critical"
    return out


def _fmt(x: float) -> str:
    return "unreachable" if not math.isfinite(x) else f"{x:.3g}"


def _share(count: int, n: int) -> str:
    return f"{count / n:.1%}" if n else "0%"


def tier_table(
    probabilities: np.ndarray | pd.Series | list[float], tiers: RiskTiers, cutoffs: Mapping[str, float]
) -> pd.DataFrame:
    """One row per tier (critical, high, medium, low): method, the policy's parameter, the cut-off, the
    customers in the tier and their share of the scored customers, and the base rate (mean probability)."""
    p = _clean(probabilities)
    got = pd.Series(assign_tiers(p, cutoffs)).value_counts()
    n = len(p)
    rows = []
    for tier in (*RANKED_TIERS, "low"):
        count = int(got.get(tier, 0))
        rows.append(
            {
                "tier": tier,
                "method": tiers.method,
                "parameter": tiers.parameter(tier) if tier in RANKED_TIERS else float("nan"),
                "cutoff": float(cutoffs[tier]) if tier in RANKED_TIERS else 0.0,
                "customers": count,
                "share": count / n if n else 0.0,
                "base_rate": float(p.mean()) if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def tier_notes(
    probabilities: np.ndarray | pd.Series | list[float], tiers: RiskTiers, cutoffs: Mapping[str, float]
) -> list[str]:
    """Why a tier is empty, or (rank) why it holds more or fewer customers than its share; empty when all is
    as the policy asks. One sentence each, naming the tier, the numbers and what to change."""
    p = _clean(probabilities)
    n = len(p)
    if n == 0:
        return ["no customer was scored: every tier is empty"]
    highest = float(p.max())
    descending = np.sort(p)[::-1]
    tiered = assign_tiers(p, cutoffs)
    counts = {t: int((tiered == t).sum()) for t in RANKED_TIERS}
    notes: list[str] = []
    above: str | None = None
    for tier in RANKED_TIERS:
        cut = float(cutoffs[tier])
        param = tiers.parameter(tier)
        at_or_above = int((p >= cut).sum())
        if tiers.method == "rank":
            k = _target_count(param, n)
            v = float(descending[k - 1])
            tied = int((p == v).sum())
            if counts[tier] == 0 and above is not None and k == _target_count(tiers.parameter(above), n):
                notes.append(
                    f"tier {tier} is empty: its share {param:.3g} of {n:,} customers rounds to the same "
                    f"{k:,} customer(s) as tier {above}"
                )
            elif counts[tier] == 0:
                notes.append(
                    f"tier {tier} is empty: its share ({param:.3g} of {n:,} = {k:,} customers) ends inside "
                    f"{tied:,} customers tied at probability {v:.6g}, and tied customers are kept together"
                )
            elif abs(at_or_above - k) > max(1, 0.1 * k):
                notes.append(
                    f"tier {tier} and above hold {at_or_above:,} customers ({_share(at_or_above, n)}) for a "
                    f"target of {k:,} ({param:.3g} of {n:,}): {tied:,} customers tied at probability {v:.6g} "
                    "are kept together"
                )
        elif counts[tier] == 0:
            if tiers.method == "lift":
                bound = f"{param:g} x the mean probability {float(p.mean()):.3g} = {_fmt(cut)}"
                advice = "consider method rank or a lower multiple"
            else:
                bound = f"{param:g}"
                advice = "consider method rank"
            if at_or_above == 0:
                notes.append(
                    f"tier {tier} is empty: no customer reaches {bound} (highest {highest:.3g}); {advice}"
                )
            else:
                upper = float(cutoffs[above]) if above else math.inf
                notes.append(
                    f"tier {tier} is empty: no customer has a probability from {_fmt(cut)} up to {_fmt(upper)}"
                )
        above = tier
    return notes
