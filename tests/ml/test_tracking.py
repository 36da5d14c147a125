"""MLflow round trip in a temporary SQLite store: log, register, promote by alias, load probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ml.plots import all_plots
from ml.registry import champion_metric, get_alias, score_with, set_alias
from ml.tracking import configure, log_model_run
from ml.train import train_candidates, validation_rows
from tests.ml.synthetic import churn_table


def test_log_register_promote_and_score(tmp_path: Path) -> None:
    import mlflow

    configure(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts", experiment="test")
    table = churn_table(n_per_snapshot=600, seed=2)
    candidates = train_candidates(table)
    logged = {}
    for c in candidates:
        val = validation_rows(table, c.split)
        plots = all_plots(
            val["churned"].astype(int).to_numpy(),
            c.validation_probability,
            c.model.feature_importance(),
            tmp_path / c.kind,
        )
        logged[c.kind] = log_model_run(
            c.model, c.metrics, c.split.as_params(), plots, val, "churn_test", run_name=c.kind,
            tags={"api_key_present": "no"},
        )  # fmt: skip
    assert {v.version for v in logged.values()} == {"1", "2", "3"}
    assert get_alias("churn_test") is None
    val = validation_rows(table, candidates[0].split)
    assert champion_metric("churn_test", val, "churned", "roc_auc") is None
    set_alias("churn_test", logged["catboost"].version or "")
    champ = get_alias("churn_test")
    assert champ is not None
    assert champ.version == logged["catboost"].version
    p = score_with(champ.uri, val.drop(columns=["churned"]))
    assert ((p > 0) & (p < 1)).all()
    assert len(np.unique(p)) > 10, "probabilities, not labels"
    expected = next(c for c in candidates if c.kind == "catboost").metrics["roc_auc"]
    assert champion_metric("churn_test", val, "churned", "roc_auc") == pytest.approx(expected, abs=1e-9)
    run = mlflow.get_run(logged["catboost"].run_id)
    assert {
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "lift_top_decile",
        "recall_top_decile",
        "emp",
    } <= set(run.data.metrics)
    assert run.data.params["validation_snapshot"] == "2025-05-01"
    assert run.data.tags["git_commit"]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        f"plots/{n}.png" for n in ("roc", "precision_recall", "calibration", "lift", "feature_importance")
    }
