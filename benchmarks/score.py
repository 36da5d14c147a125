"""Scoring speed and memory at a million customers, printed as a table.

Trains the platform on a simulated company (the demo's 10,000 accounts by default), then replaces the scoring
set with N customers drawn from it (fresh ids) and times: probability + tier for everyone, SHAP reasons for the
tiers the policy explains, and the whole scoring asset (read, score, explain, write). Each size runs in a fresh
process so its peak memory is its own.
Usage: python benchmarks/score.py [--sizes 100000 1000000] [--train-customers 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare_platform(data_dir: Path, customers: int) -> None:
    """Simulate and materialize the platform once (simulate -> ... -> champion -> scores); also used by
    api.py."""
    env = {**os.environ, "CHURN_DATA_DIR": str(data_dir)}
    cli = str(Path(sys.executable).with_name("churn-platform"))
    subprocess.run([cli, "simulate", "--customers", str(customers), "--months", "12"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run(
        [cli, "materialize"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _measure(data_dir: str, size: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    os.environ["CHURN_DATA_DIR"] = data_dir
    import duckdb
    import numpy as np

    from churn_platform.lib.ml_pipeline import (
        SCORING_SQL,
        read_table,
        reason_wording,
        score_customers,
        write_tables,
    )
    from churn_platform.profile import active_profile
    from churn_platform.settings import get_settings
    from ml.explain import top_reasons
    from ml.policy import load_policy
    from ml.registry import get_alias
    from ml.score import score_frame
    from ml.tracking import EXPLAINER, configure, load_churn_model, quiet_mlflow

    settings = get_settings()
    configure(settings.mlflow_uri, settings.mlflow_artifacts)
    policy = load_policy(settings.policy_path)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create table if not exists bench_base as select * from ml_scoring_set")
    kind = con.execute(
        "select table_type from information_schema.tables where table_name = 'ml_scoring_set'"
    ).fetchall()
    con.execute(f"drop {'view' if kind and kind[0][0] == 'VIEW' else 'table'} if exists ml_scoring_set")
    con.execute(
        f"""create table ml_scoring_set as
            with base as (select *, row_number() over () - 1 as k from bench_base),
                 n as (select count(*) as c from bench_base),
                 picks as (select r.range as i, hash(r.range) % n.c as k from range({size}) r, n)
            select base.* exclude (k) replace ('B' || lpad(cast(picks.i as varchar), 9, '0') as customer_id)
            from picks join base using (k)"""
    )
    con.close()
    champion = get_alias(settings.model_name)
    assert champion is not None
    with quiet_mlflow():
        model = load_churn_model(champion.uri)
        explainer = load_churn_model(f"models:/{settings.model_name}@{EXPLAINER}")
    wording = reason_wording(active_profile())
    frame = read_table(settings.warehouse, SCORING_SQL)
    started = time.perf_counter()
    scores = score_frame(model, frame, policy, champion.version).scores
    score_s = time.perf_counter() - started
    to_explain = scores["risk_tier"].isin(policy.explain_tiers).to_numpy()
    started = time.perf_counter()
    top_reasons(explainer, frame.loc[to_explain], wording=wording)
    explain_s = time.perf_counter() - started
    del frame, scores
    started = time.perf_counter()
    outcome = score_customers(settings.warehouse, settings.model_name, policy, wording=wording)
    write_tables(settings.warehouse, {"ml.churn_scores": outcome.scores})
    asset_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(
        (size, champion.version, model.kind, score_s, int(np.sum(to_explain)), explain_s, asset_s, peak)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--train-customers", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.keep or Path(tempfile.mkdtemp(prefix="score-bench-"))
    if not (data_dir / "warehouse.duckdb").exists():
        print(f"preparing a trained platform in {data_dir} ...", flush=True)
        prepare_platform(data_dir, args.train_customers)
    ctx = mp.get_context("spawn")
    print(f"{'customers':>10} {'model':>22} {'prob+tier s':>11} {'cust/s':>10} {'explained':>9} {'explain s':>9} "
          f"{'asset s':>8} {'peak MiB':>9}")  # fmt: skip
    for size in args.sizes:
        queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        proc = ctx.Process(target=_measure, args=(str(data_dir), size, queue))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"the {size:,} run failed")
        size, version, kind, score_s, explained, explain_s, asset_s, peak = queue.get()
        print(f"{size:>10,} {kind + ' v' + version:>22} {score_s:>11.2f} {size / score_s:>10,.0f} {explained:>9,} "
              f"{explain_s:>9.2f} {asset_s:>8.1f} {peak:>9,.0f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
