"""A campaign's design at launch: for each playbook, how many are treated and held out, and what that can show.

The baseline is the mean churn probability of the playbook's randomised customers (the model's, before any
outcome); the MDE is the smallest save rate this wave alone detects with the policy's power, ``power`` the
chance it detects the policy's smallest effect worth detecting, and ``control_needed`` the control group that
would detect it in this wave beside the treated (None: no control group is large enough, so the effect can
only be shown by pooling waves and the standing global holdout; see ``retention.playbook_effects``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_platform.lib.retention.policy import RetentionPolicy
from ml.experiment import control_needed, minimum_detectable_effect, power_at

COLUMNS = ["playbook", "treated", "control", "baseline", "mde", "power", "control_needed", "arms"]


def launch_design(decisions: pd.DataFrame, policy: RetentionPolicy) -> pd.DataFrame:
    """One row per playbook of ``decisions`` (one snapshot's decisions) with treated, control (campaign control
    and global holdout), baseline, mde, power, control_needed and the treated count per arm."""
    if decisions.empty or "decision" not in decisions:
        return pd.DataFrame(columns=COLUMNS)
    design = policy.experiment
    frame = decisions[decisions["decision"].isin(["treat", "control", "holdout"])]
    rows = []
    for playbook, group in frame.groupby("playbook", sort=True):
        treated = group["decision"] == "treat"
        nt, nc = int(treated.sum()), int((~treated).sum())
        baseline = float(np.clip(group["churn_probability"].astype(float).mean(), 0.005, 0.995))
        effect = min(design.minimum_effect, baseline * 0.99)
        arms = group.loc[treated, "arm"].value_counts().sort_index() if "arm" in group else pd.Series()
        rows.append(
            {
                "playbook": str(playbook),
                "treated": nt,
                "control": nc,
                "baseline": baseline,
                "mde": minimum_detectable_effect(baseline, nt, nc, design.alpha, design.power),
                "power": power_at(baseline, effect, nt, nc, design.alpha),
                "control_needed": control_needed(baseline, effect, nt, design.alpha, design.power),
                "arms": ", ".join(f"{a} {c}" for a, c in arms.items()),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
