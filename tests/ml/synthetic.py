"""A small seeded churn table shaped like the feature mart, for fast tests of ml/."""

from __future__ import annotations

import numpy as np
import pandas as pd


def churn_table(n_per_snapshot: int = 1500, snapshots: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(snapshots):
        n = n_per_snapshot
        logins = rng.poisson(6, n)
        change = np.clip(rng.normal(0, 30, n), -100, 100)  # events_change_pct: positive = growth
        tickets = rng.poisson(0.3, n)
        plan = rng.choice(["basic", "pro", "business"], n, p=[0.5, 0.35, 0.15])
        tenure = rng.integers(10, 1500, n)
        noise = rng.normal(0, 1, n)  # a column with no signal
        logit = (
            -2.6 - 0.03 * change - 0.15 * logins + 0.7 * tickets + 0.5 * (plan == "basic") - 0.0005 * tenure
        )
        y = rng.random(n) < 1 / (1 + np.exp(-logit))
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": [f"C{s}{i:06d}" for i in range(n)],
                    "snapshot_date": pd.Timestamp("2025-01-01") + pd.DateOffset(months=s),
                    "login_30d": logins,
                    "events_change_pct": change,
                    "unresolved_tickets": tickets,
                    "oldest_unresolved_ticket_days": np.where(tickets > 0, rng.integers(1, 40, n), np.nan),
                    "plan": plan,
                    "tenure_days": tenure,
                    "noise": noise,
                    "churned": y,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
