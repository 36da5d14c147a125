"""Monitoring speed and memory: Evidently feature and prediction drift reports as the company grows.

Each size runs in a fresh process (its peak memory is its own): a reference sample (the policy's
``reference_sample_rows``, 50,000) against N current customers with 24 numeric and 6 categorical features, like
the scoring set; the current side is either unshifted or carries an outage (usage features x0.4). Times the
Evidently run, the self-contained HTML and adding the run to a workspace, and prints the drift found.
Usage: python benchmarks/monitoring.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

USAGE = [
    "login_30d",
    "session_30d",
    "feature_use_30d",
    "session_seconds_30d",
    "events_30d",
    "active_days_30d",
]


def _frame(n: int, seed: int, usage_scale: float = 1.0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {}
    for i in range(18):
        data[f"num_{i}"] = rng.gamma(2.0 + i % 5, 10.0, n)
    for col in USAGE:
        data[col] = rng.poisson(30 * usage_scale, n).astype(float)
    for i in range(6):
        data[f"cat_{i}"] = rng.choice([f"v{k}" for k in range(3 + i)], n)
    return pd.DataFrame(data)


def _measure(size: int, shifted: bool, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import numpy as np
    import pandas as pd

    from ml.monitoring import add_to_workspace, feature_drift, prediction_drift, save_html
    from ml.policy import MonitoringPolicy

    policy = MonitoringPolicy()
    reference = _frame(policy.reference_sample_rows, 1)
    current = _frame(size, 2, usage_scale=0.4 if shifted else 1.0)
    numeric = [c for c in current.columns if not c.startswith("cat_")]
    categorical = [c for c in current.columns if c.startswith("cat_")]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = feature_drift(reference, current, numeric, categorical, policy)
        evidently_s = time.perf_counter() - started
        started = time.perf_counter()
        html = save_html(result, Path(tmp) / "reports")
        add_to_workspace(result, Path(tmp) / "ws")
        save_s = time.perf_counter() - started
        rng = np.random.default_rng(3)
        started = time.perf_counter()
        prediction_drift(pd.Series(rng.beta(1, 20, 50_000)), pd.Series(rng.beta(1, 20, size)), policy)
        prediction_s = time.perf_counter() - started
        html_mib = html.stat().st_size / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        (
            size,
            shifted,
            evidently_s,
            save_s,
            prediction_s,
            html_mib,
            peak,
            result.drift_share,
            result.dataset_drift,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    rows = []
    for size in args.sizes:
        for shifted in (False, True):
            queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            proc = ctx.Process(target=_measure, args=(size, shifted, queue))
            proc.start()
            rows.append(queue.get())
            proc.join()
    print(
        "| customers | current | feature drift s | HTML + workspace s | prediction drift s | HTML MiB | peak MiB | drift share | dataset drift |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size, shifted, ev, save, pred, mib, peak, share, drift in rows:
        label = "outage" if shifted else "unshifted"
        print(
            f"| {size:,} | {label} | {ev:.1f} | {save:.1f} | {pred:.1f} | {mib:.1f} | {peak:,.0f} | {share:.0%} | {drift} |"
        )


if __name__ == "__main__":
    main()
