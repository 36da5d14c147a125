"""The one place a fresh probability gets its risk tier outside a scoring run (the real-time API).

A scoring run may record per-tier probability cut-offs (``ml.tier_cutoffs``, published with the dashboard
snapshot as ``tier_cutoffs.parquet``). When they exist, a probability computed now is tiered by the cut-offs
of the latest scoring, so the API and the batch agree; before any are recorded, the policy's thresholds are
the cut-offs. Swap :func:`latest_cutoffs` when the recorded table changes shape; nothing else reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml.policy import ChurnPolicy

RANKED_TIERS = ("critical", "high", "medium")
CUTOFFS_FILE = "tier_cutoffs.parquet"


@dataclass(frozen=True)
class Cutoffs:
    """Inclusive lower probability bounds per tier (critical >= high >= medium) and where they came from."""

    values: dict[str, float]
    source: str


def policy_cutoffs(policy: ChurnPolicy) -> Cutoffs:
    """Before any scoring recorded cut-offs: the policy's (absolute thresholds; a rank or lift method needs
    the scored probabilities, so until then its tiers are unreachable and every fresh score is low)."""
    from ml.tiers import tier_cutoffs

    values = tier_cutoffs(np.asarray([], dtype=float), policy.risk_tiers)
    return Cutoffs(
        {t: float(values[t]) for t in RANKED_TIERS},
        f"churn policy {policy.version} ({policy.risk_tiers.method})",
    )


def latest_cutoffs(published_dir: Path, policy: ChurnPolicy) -> Cutoffs:
    """The cut-offs recorded by the latest scoring, else the policy's thresholds.

    Reads ``published_dir/tier_cutoffs.parquet`` (columns ``snapshot_date``, ``tier``, ``cutoff``; the newest
    snapshot wins) when it exists and names every ranked tier.
    """
    path = published_dir / CUTOFFS_FILE
    if not path.exists():
        return policy_cutoffs(policy)
    frame = pd.read_parquet(path)
    if frame.empty or not {"tier", "cutoff"} <= set(frame.columns):
        return policy_cutoffs(policy)
    for newest in ("snapshot_date", "scored_at"):  # the latest scoring (a snapshot may be rescored)
        if newest in frame.columns:
            frame = frame[frame[newest] == frame[newest].max()]
    values = {str(t): float(c) for t, c in zip(frame["tier"], frame["cutoff"], strict=True)}
    if not all(t in values for t in RANKED_TIERS):
        return policy_cutoffs(policy)
    snapshot = str(frame["snapshot_date"].max())[:10] if "snapshot_date" in frame.columns else "latest"
    return Cutoffs({t: values[t] for t in RANKED_TIERS}, f"cut-offs recorded by the scoring of {snapshot}")


def tier_of(probability: np.ndarray | list[float] | float, cutoffs: Mapping[str, float]) -> np.ndarray:
    """critical if p >= cutoffs['critical'], else high, medium, else low (NaN is low): scoring's own rule."""
    from ml.tiers import assign_tiers

    return assign_tiers(probability, cutoffs)
