"""Does the measured save rate find the true effect? The demo's closed loop at a larger size, checked on truth.

Runs `churn-platform demo --no-ui` (two periods: score, campaign, the simulated month in which treated
customers respond, the next scoring, outcomes) in a temporary data folder, then compares the incremental save
rate's 95% interval with the true effect the simulator applied to the treated customers.
Usage: python benchmarks/campaign_truth.py [--customers 60000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="campaign-truth-"))
    env = {**os.environ, "CHURN_DATA_DIR": str(data), "CHURN_DEMO_CUSTOMERS": str(args.customers)}
    started = time.perf_counter()
    if not (data / "warehouse.duckdb").exists() or not (data / "exports").exists():
        cli = str(Path(sys.executable).with_name("churn-platform"))
        subprocess.run([cli, "demo", "--no-ui"], env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    outcomes = con.execute("select * from retention.outcomes where dimension = 'overall'").df()
    decisions = con.execute(
        "select customer_id, snapshot_date, decision, intervention from retention.decisions"
    ).df()
    con.close()
    print(f"closed loop at {args.customers:,} customers in {seconds:.0f} s ({data})")
    print(f"{'campaign':<11} {'treated':>7} {'control':>7} {'churn T':>8} {'churn C':>8} {'save rate':>9} "
          f"{'95% interval':>18} {'true effect':>11} {'covered':>7}")  # fmt: skip
    for row in outcomes.to_dict("records"):
        snapshot = pd.Timestamp(row["snapshot_date"]).date()
        truth = pd.read_parquet(data / "ground_truth" / "monthly" / f"{snapshot}.parquet")
        treated = decisions[
            (decisions["decision"] == "treat")
            & (pd.to_datetime(decisions["snapshot_date"]).dt.date == snapshot)
        ]
        joined = treated.merge(truth, on="customer_id")
        true_effect = float((joined["untreated_churn_prob"] - joined["true_churn_prob"]).mean())
        covered = row["save_rate_low"] <= true_effect <= row["save_rate_high"]
        print(
            f"{snapshot!s:<11} {int(row['treated']):>7} {int(row['control']):>7} {row['treated_churn_rate']:>8.3%} "
            f"{row['control_churn_rate']:>8.3%} {row['save_rate']:>9.3%} "
            f"[{row['save_rate_low']:>7.3%}, {row['save_rate_high']:>7.3%}] {true_effect:>11.3%} {'yes' if covered else 'NO':>7}"
        )


if __name__ == "__main__":
    main()
