"""How close the champion gets to the best possible model, on the simulator's ground truth.

Reads a platform data folder (default: the project's data/, as left by `bash scripts/run.sh`), scores the
validation snapshot of the latest training round with the champion, and prints its ROC-AUC next to the
oracle's (the simulator's true churn probabilities) on exactly the same customers and window.
Usage: python benchmarks/oracle_gap.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CHURN_DATA_DIR"] = str(args.data_dir)
    from churn_platform.lib.ml_pipeline import read_table
    from churn_platform.settings import get_settings
    from ml.registry import get_alias, score_with
    from ml.tracking import configure, quiet_mlflow
    from ml.train import time_split

    settings = get_settings()
    configure(settings.mlflow_uri, settings.mlflow_artifacts)
    champion = get_alias(settings.model_name)
    if champion is None:
        raise SystemExit("no champion model: run the platform first")
    training = read_table(settings.warehouse, "select * from ml_training_set")
    split = time_split(training)
    val = training[pd.to_datetime(training["snapshot_date"]).dt.date == split.validation]
    with quiet_mlflow():
        p = score_with(champion.uri, val.drop(columns=["churned"]))
    truth = pd.read_parquet(settings.ground_truth / "monthly" / f"{split.validation}.parquet")
    joined = (
        val[["customer_id", "churned"]].assign(p=p).merge(truth, on="customer_id", suffixes=("", "_truth"))
    )
    model_auc = roc_auc_score(joined["churned"].astype(int), joined["p"])
    oracle_auc = roc_auc_score(joined["churned"].astype(int), joined["true_churn_prob"])
    agree = (joined["churned"].astype(bool) == joined["churned_truth"].astype(bool)).mean()
    print(
        f"{'window':<12} {'customers':>9} {'churned':>7} {'champion':>9} {'model AUC':>9} {'oracle AUC':>10} {'ratio':>6} {'labels = truth':>14}"
    )
    print(
        f"{split.validation!s:<12} {len(joined):>9,} {int(joined['churned'].sum()):>7} {'v' + champion.version:>9} "
        f"{model_auc:>9.4f} {oracle_auc:>10.4f} {model_auc / oracle_auc:>6.3f} {agree:>14.2%}"
    )


if __name__ == "__main__":
    main()
