"""Thompson sampling between retention interventions ("arms"), learnt from measured campaign outcomes.

An arm's effect in a context cell (for example churn factor x segment) is measured as a rate ratio: churned
customers observed over churned customers expected, where the expectation is the sum of their pre-treatment
churn probabilities. Arms given to riskier customers are thereby not blamed for their risk, and the model's own
miscalibration in a cell cancels out, because the control group's ratio in the same cell is the baseline:

    theta ~ Gamma(a + churned, b + expected)       (Poisson counts with exposure; conjugate)
    relative reduction of churn by an arm  r = 1 - theta_arm / theta_control

Before any outcome is measured an arm's ratio is centred on ``1 - prior_effect`` with ``strength`` expected
churns of weight; the control's ratio is centred on 1 (a calibrated model expects as many churns as happen)
with ``calibration_strength`` of weight, so that a small control group does not swing every arm's effect
while it is still small, and it takes over as it grows. A cell's prior is its arm's pooled posterior over
every cell, weighted ``cell_strength``: how far a cell may stray from its arm's overall effect before its own
customers show it (hierarchical, empirical Bayes). Plain NumPy; no company or policy is assumed.

The probability that an arm is a customer's best, P(argmax_k  P(churn) x r_k x value - cost_k), estimated from
posterior draws, is the Thompson-sampling allocation; a floor keeps every eligible arm explored.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONTROL = "control"


def arm_evidence(history: pd.DataFrame, context: Sequence[str]) -> pd.DataFrame:
    """Churn observed and expected per context cell and arm.

    ``history``: one row per measured decision with the ``context`` columns, ``arm`` (``control`` or an
    intervention), ``churned`` (0/1) and ``churn_probability`` (at the decision). Returns the context
    columns, ``arm``, ``customers``, ``churned`` and ``expected``.
    """
    cols = [*context, "arm", "customers", "churned", "expected"]
    if history.empty:
        return pd.DataFrame(columns=cols)
    missing = [c for c in [*context, "arm", "churned", "churn_probability"] if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks column(s) {missing}")
    frame = history.assign(
        churned=history["churned"].astype(float),
        expected=history["churn_probability"].astype(float).clip(1e-6, 1.0),
    )
    keys = [*context, "arm"]
    out = (
        frame.groupby([frame[c].astype(str) for c in keys], observed=True)
        .agg(customers=("churned", "size"), churned=("churned", "sum"), expected=("expected", "sum"))
        .reset_index()
    )
    return out[cols]


@dataclass(frozen=True)
class Posterior:
    """Posterior draws of each arm's relative reduction of churn per context cell.

    ``draws`` has shape (cells, arms, draws); ``cells`` are tuples of context values; the last cell,
    ``POOLED``, pools every cell (used for a context never seen before).
    """

    context: tuple[str, ...]
    cells: list[tuple[str, ...]]
    arms: list[str]
    draws: np.ndarray
    point: np.ndarray

    POOLED = ("*",)

    def mean(self) -> np.ndarray:
        """(cells, arms) relative reduction at the posterior means of the rate ratios, 1 - E[theta_arm] /
        E[theta_control] (the mean of the ratio itself is inflated by the control's uncertainty)."""
        return self.point

    def cell_index(self, frame: pd.DataFrame) -> np.ndarray:
        """Row -> cell index (the pooled cell for a context not in the posterior)."""
        lookup = {cell: i for i, cell in enumerate(self.cells)}
        pooled = len(self.cells) - 1
        if not self.context:
            return np.full(len(frame), pooled, dtype=np.int64)
        keys = zip(*[frame[c].astype(str) for c in self.context], strict=True)
        return np.array([lookup.get(tuple(k), pooled) for k in keys], dtype=np.int64)

    def summary(self) -> pd.DataFrame:
        """One row per cell and arm: posterior mean and 90% interval of the relative reduction."""
        rows = []
        for i, cell in enumerate(self.cells):
            for j, arm in enumerate(self.arms):
                d = self.draws[i, j]
                rows.append({
                    "cell": " / ".join(cell), "arm": arm, "mean": float(self.point[i, j]),
                    "low": float(np.quantile(d, 0.05)), "high": float(np.quantile(d, 0.95)),
                })  # fmt: skip
        return pd.DataFrame(rows)


def posterior(
    evidence: pd.DataFrame,
    context: Sequence[str],
    cells: Sequence[tuple[str, ...]],
    arms: Sequence[str],
    prior_effect: Mapping[str, float],
    strength: float,
    draws: int,
    rng: np.random.Generator,
    calibration_strength: float | None = None,
    cell_strength: float | None = None,
) -> Posterior:
    """Posterior draws for ``cells`` (plus the pooled cell) and ``arms`` from ``arm_evidence`` output.

    ``prior_effect``: relative reduction assumed per arm before any evidence (missing: 0); ``strength``: how
    many expected churns of evidence the arms' prior is worth; ``calibration_strength``: the same for the
    control's ratio of 1 (default ``strength``); ``cell_strength``: the weight of an arm's pooled posterior as
    a cell's prior (default ``strength``; the control's cells keep ``calibration_strength``). Raises ValueError
    on a non-positive strength.
    """
    calibration = strength if calibration_strength is None else calibration_strength
    per_cell = strength if cell_strength is None else cell_strength
    if strength <= 0 or calibration <= 0 or per_cell <= 0:
        raise ValueError("prior strength must be positive")
    weight = {name: calibration if name == CONTROL else strength for name in [CONTROL, *arms]}
    cell_weight = {name: calibration if name == CONTROL else per_cell for name in [CONTROL, *arms]}
    ctx = tuple(context)
    names = [CONTROL, *arms]
    ev = evidence.copy()
    if not ev.empty:
        ev["cell"] = list(zip(*[ev[c].astype(str) for c in ctx], strict=True)) if ctx else [()] * len(ev)
    pooled_shape, pooled_rate = {}, {}
    for name in names:
        rows = ev[ev["arm"] == name] if not ev.empty else ev
        prior_mean = 1.0 - float(prior_effect.get(name, 0.0)) if name != CONTROL else 1.0
        pooled_shape[name] = weight[name] * prior_mean + float(rows["churned"].sum() if len(rows) else 0.0)
        pooled_rate[name] = weight[name] + float(rows["expected"].sum() if len(rows) else 0.0)
    all_cells = [tuple(c) for c in cells if tuple(c) != Posterior.POOLED] + [Posterior.POOLED]
    theta = np.empty((len(all_cells), len(names), draws))
    centre = np.empty((len(all_cells), len(names)))
    by_cell: dict[Hashable, pd.DataFrame] = dict(iter(ev.groupby("cell"))) if not ev.empty else {}
    for i, cell in enumerate(all_cells):
        in_cell = by_cell.get(cell)
        for j, name in enumerate(names):
            shape, rate = pooled_shape[name], pooled_rate[name]
            if cell != Posterior.POOLED:
                mine = in_cell[in_cell["arm"] == name] if in_cell is not None else None
                pooled = shape / rate
                shape = cell_weight[name] * pooled + (
                    float(mine["churned"].sum()) if mine is not None else 0.0
                )
                rate = cell_weight[name] + (float(mine["expected"].sum()) if mine is not None else 0.0)
            theta[i, j] = rng.gamma(shape, 1.0 / rate, size=draws)
            centre[i, j] = shape / rate
    reduction = 1.0 - theta[:, 1:, :] / theta[:, :1, :]
    return Posterior(ctx, all_cells, list(arms), reduction, 1.0 - centre[:, 1:] / centre[:, :1])


def thompson_probabilities(
    score: np.ndarray,
    cell: np.ndarray,
    eligible: np.ndarray,
    cost: np.ndarray,
    post: Posterior,
    floor: float,
    chunk: int = 4096,
) -> np.ndarray:
    """Per customer and arm: the probability of allocating the arm, among the customer's eligible arms.

    ``score``: P(churn) x value per customer (the money at stake); ``cell``: posterior cell per customer;
    ``eligible``: (customers, arms) booleans; ``cost``: per arm. Each eligible arm's probability is the share
    of posterior draws in which it has the highest expected net value, mixed with a uniform ``floor``:
    ``floor + (1 - m x floor) x share`` for m eligible arms. Rows without an eligible arm are all zero.
    """
    n, k = eligible.shape
    out = np.zeros((n, k))
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        r = post.draws[cell[sl]]  # (c, k, D)
        value = score[sl, None, None] * r - cost[None, :, None]
        value = np.where(eligible[sl, :, None], value, -np.inf)
        best = value.argmax(axis=1)  # (c, D)
        share = np.stack([(best == j).mean(axis=1) for j in range(k)], axis=1)
        share = np.where(eligible[sl], share, 0.0)
        m = eligible[sl].sum(axis=1, keepdims=True)
        mixed = np.where(eligible[sl], floor + (1 - m * floor) * share, 0.0)
        total = mixed.sum(axis=1, keepdims=True)
        out[sl] = np.divide(mixed, total, out=np.zeros_like(mixed), where=total > 0)
    return out


def greedy_probabilities(value: np.ndarray, eligible: np.ndarray, floor: float) -> np.ndarray:
    """The best eligible arm by ``value`` gets ``1 - (m - 1) x floor``, every other eligible arm ``floor``."""
    n, _k = eligible.shape
    masked = np.where(eligible, value, -np.inf)
    best = masked.argmax(axis=1)
    m = eligible.sum(axis=1)
    out = np.where(eligible, floor, 0.0)
    out[np.arange(n), best] = np.where(m > 0, 1 - (m - 1) * floor, 0.0)
    return out
