"""Simulator speed and memory at several company sizes, printed as a table.

Each size runs in a fresh process so its peak resident memory is its own.
Usage: python benchmarks/simulate.py [--sizes 10000 100000 1000000] [--months 12] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _run(customers: int, months: int, root: str, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    from churn_platform.simulate.config import SimulationConfig
    from churn_platform.simulate.engine import simulate

    config = SimulationConfig(
        customers=customers,
        start=dt.date(2025, 1, 1),
        months=months,
        seed=42,
        landing=Path(root) / "landing",
        ground_truth=Path(root) / "ground_truth",
    )
    started = time.perf_counter()
    summary = simulate(config)
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sum(p.stat().st_size for p in (Path(root) / "landing").rglob("*") if p.is_file())
    queue.put((customers, seconds, sum(summary.rows.values()), summary.rows.get("usage_events", 0), peak_mib,
               size / 2**20, summary.oracle_auc))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--keep", type=Path, default=None, help="keep the output under this folder")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    print(f"{'customers':>10} {'months':>6} {'seconds':>8} {'rows':>12} {'rows/s':>10} {'events':>12} "
          f"{'peak MiB':>9} {'landing MiB':>11} {'oracle AUC':>10}")  # fmt: skip
    for size in args.sizes:
        root = Path(tempfile.mkdtemp(prefix=f"sim{size}-", dir=args.keep))
        queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        proc = ctx.Process(target=_run, args=(size, args.months, str(root), queue))
        proc.start()
        proc.join()
        customers, seconds, rows, events, peak, mib, auc = queue.get()
        print(f"{customers:>10,} {args.months:>6} {seconds:>8.1f} {rows:>12,} {rows / seconds:>10,.0f} "
              f"{events:>12,} {peak:>9,.0f} {mib:>11,.0f} {auc:>10.3f}", flush=True)  # fmt: skip
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
