"""What the dashboard says about the model: the champion, how it was judged, its rivals, the latest reports.

Read from the MLflow registry inside the pipeline and published as JSON, because the dashboard should not
depend on reaching MLflow's store (a SQLite file on the laptop, a server at company scale). Links point at
the MLflow UI so a product manager can go from the dashboard to the run that produced the scores.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from ml.registry import CHAMPION, EXPLAINER, get_alias

# run params that describe the data the model was trained and judged on
WINDOW_PARAMS = ("train_window", "train_snapshots", "calibration_snapshot", "validation_snapshot")


def _when(millis: int | None) -> str | None:
    if not millis:
        return None
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC).isoformat(timespec="seconds")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows (timestamps as ISO text, NaN as null, numpy scalars as Python)."""
    rows: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return rows


def latest_reports(reports: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The most recent row of each report kind (feature drift, prediction drift, model performance)."""
    if reports is None or reports.empty:
        return []
    ordered = reports.sort_values("run_at")
    latest = ordered.groupby("report", sort=True).tail(1).sort_values("report")
    return _records(latest.reset_index(drop=True))


def _versions(client: MlflowClient, model_name: str, aliases: dict[str, str]) -> list[dict[str, Any]]:
    """Every registered version with its headline metric and the promotion gate's verdict.

    MLflow does not keep the history of an alias, so this is the history of candidates, not of champions:
    ``promotion_decision`` (set by training on each round's best candidate) says which were promoted.
    """
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name = '{model_name}'"):
        run = client.get_run(mv.run_id) if mv.run_id else None
        metrics = run.data.metrics if run else {}
        tags = run.data.tags if run else {}
        params = run.data.params if run else {}
        rows.append(
            {
                "version": str(mv.version),
                "model_family": tags.get("model_family"),
                "roc_auc": metrics.get("roc_auc"),
                "pr_auc": metrics.get("pr_auc"),
                "promotion_decision": tags.get("promotion_decision"),
                "candidate_of_round": tags.get("candidate_of_round"),
                "validation_snapshot": params.get("validation_snapshot"),
                "registered_at": _when(mv.creation_timestamp),
                "aliases": sorted(by_version.get(str(mv.version), [])),
                "run_id": mv.run_id,
            }
        )
    return sorted(rows, key=lambda r: int(r["version"]), reverse=True)


def champion_health(model_name: str, mlflow_ui_url: str, reports: pd.DataFrame | None) -> dict[str, Any]:
    """The champion (version, family, metrics, training window, links), all versions and latest reports.

    Uses the current MLflow tracking URI. Without a champion (nothing promoted yet) the champion fields are
    null and the versions and reports are still listed.
    """
    client = MlflowClient()
    ui = mlflow_ui_url.rstrip("/")
    try:
        aliases = {k: str(v) for k, v in client.get_registered_model(model_name).aliases.items()}
        registered = True
    except mlflow.exceptions.MlflowException:
        aliases, registered = {}, False
    health: dict[str, Any] = {
        "model_name": model_name,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mlflow_ui_url": ui,
        "champion_version": None,
        "explainer_version": aliases.get(EXPLAINER),
        "run_id": None,
        "run_name": None,
        "experiment_id": None,
        "model_family": None,
        "metrics": {},
        "validation_window": {},
        "policy_version": None,
        "training_rows": None,
        "promotion_decision": None,
        "git_commit": None,
        "registered_at": None,
        "trained_at": None,
        "mlflow_run_url": None,
        "mlflow_model_url": None,
        "versions": _versions(client, model_name, aliases) if registered else [],
        "reports": latest_reports(reports),
    }
    champion = get_alias(model_name, CHAMPION)
    if champion is None:
        return health
    run = client.get_run(champion.run_id)
    version = client.get_model_version(model_name, champion.version)
    params, tags = run.data.params, run.data.tags
    health.update(
        {
            "champion_version": champion.version,
            "run_id": champion.run_id,
            "run_name": run.info.run_name,
            "experiment_id": run.info.experiment_id,
            "model_family": tags.get("model_family"),
            "metrics": dict(sorted(run.data.metrics.items())),
            "validation_window": {k: params[k] for k in WINDOW_PARAMS if k in params},
            "policy_version": params.get("policy_version"),
            "training_rows": params.get("training_rows"),
            "promotion_decision": tags.get("promotion_decision"),
            "git_commit": tags.get("git_commit"),
            # MLflow records when a version was registered, not when an alias moved to it
            "registered_at": _when(version.creation_timestamp),
            "trained_at": _when(run.info.end_time or run.info.start_time),
            "mlflow_run_url": f"{ui}/#/experiments/{run.info.experiment_id}/runs/{champion.run_id}",
            "mlflow_model_url": f"{ui}/#/models/{model_name}/versions/{champion.version}",
        }
    )
    return health
