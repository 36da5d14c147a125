"""champion_health against a real (SQLite) MLflow registry: the champion, its links, the versions, reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from churn_platform.lib.model_health import champion_health, latest_reports
from ml.tracking import configure


def register(client: MlflowClient, experiment_id: str, family: str, roc_auc: float, decision: str) -> str:
    run = client.create_run(experiment_id, run_name=family, tags={"model_family": family})
    run_id = run.info.run_id
    client.log_metric(run_id, "roc_auc", roc_auc)
    client.log_metric(run_id, "ece", 0.01)
    client.log_param(run_id, "validation_snapshot", "2025-12-01")
    client.log_param(run_id, "train_window", "2025-04-01..2025-10-01")
    client.set_tag(run_id, "promotion_decision", decision)
    client.set_terminated(run_id)
    version = client.create_model_version("churn_model", f"runs:/{run_id}/model", run_id=run_id)
    return str(version.version)


def test_champion_health_reads_the_registry(tmp_path: Path) -> None:
    experiment_id = configure(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts", "churn")
    client = MlflowClient()
    assert champion_health("churn_model", "http://mlflow:5000", None)["versions"] == []  # nothing registered

    client.create_registered_model("churn_model")
    register(client, experiment_id, "logistic_regression", 0.78, "n/a")
    champion = register(client, experiment_id, "catboost", 0.83, "promote")
    register(client, experiment_id, "catboost", 0.80, "keep")
    health = champion_health("churn_model", "http://mlflow:5000", None)
    assert health["champion_version"] is None
    assert [v["version"] for v in health["versions"]] == ["3", "2", "1"]

    client.set_registered_model_alias("churn_model", "champion", champion)
    reports = pd.DataFrame(
        {
            "report": ["feature_drift", "feature_drift", "model_performance"],
            "run_at": pd.to_datetime(["2026-01-09", "2026-01-02", "2026-01-05"]),
            "drift_share": [0.6, 0.1, float("nan")],
            "html_path": ["/r/new.html", "/r/old.html", "/r/perf.html"],
        }
    )
    health = champion_health("churn_model", "http://mlflow:5000/", reports)
    run_id = health["run_id"]
    assert health["champion_version"] == "2"
    assert health["model_family"] == "catboost"
    assert health["metrics"] == {"ece": 0.01, "roc_auc": 0.83}
    assert health["validation_window"] == {
        "train_window": "2025-04-01..2025-10-01",
        "validation_snapshot": "2025-12-01",
    }
    assert health["promotion_decision"] == "promote"
    assert health["mlflow_run_url"] == f"http://mlflow:5000/#/experiments/{experiment_id}/runs/{run_id}"
    assert health["mlflow_model_url"] == "http://mlflow:5000/#/models/churn_model/versions/2"
    assert health["registered_at"] is not None
    versions = {v["version"]: v for v in health["versions"]}
    assert versions["2"]["aliases"] == ["champion"]
    assert versions["3"]["aliases"] == []
    assert [versions[v]["promotion_decision"] for v in ("1", "2", "3")] == ["n/a", "promote", "keep"]
    assert [(r["report"], r["html_path"]) for r in health["reports"]] == [
        ("feature_drift", "/r/new.html"),
        ("model_performance", "/r/perf.html"),
    ]
    assert health["reports"][1]["drift_share"] is None  # NaN becomes JSON null


def test_latest_reports_without_reports() -> None:
    assert latest_reports(None) == []
    assert latest_reports(pd.DataFrame()) == []
