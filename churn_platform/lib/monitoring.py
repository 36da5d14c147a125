"""The monitoring steps of the pipeline: warehouse and champion in, Evidently reports and a results table out.

The reference for every comparison is the champion's own training window (read from its MLflow run), so
"drift" always means "different from what the model serving today learnt from". Each step writes its HTML
report, adds the run to the Evidently workspace and appends one row to ``monitoring.report_runs`` (per-feature
scores to ``monitoring.drift_columns``): the dashboard, the alerts and the retraining sensor read those.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from churn_platform.lib.ml_pipeline import read_table, write_tables
from ml.models import ChurnModel
from ml.monitoring import (
    MODEL_PERFORMANCE,
    MonitoringResult,
    add_to_workspace,
    feature_drift,
    model_performance,
    prediction_drift,
    retraining_reasons,
    save_html,
)
from ml.policy import MonitoringPolicy
from ml.registry import Champion, get_alias
from ml.tracking import load_churn_model, quiet_mlflow

REPORT_RUNS = "monitoring.report_runs"
DRIFT_COLUMNS = "monitoring.drift_columns"


@dataclass(frozen=True)
class MonitoringPlaces:
    """Where reports go: HTML files, the Evidently workspace, and the UI address for links."""

    reports_dir: Path
    workspace_dir: Path
    evidently_ui_url: str = "http://127.0.0.1:8000"


@dataclass
class RecordedReport:
    """A report that has been saved and recorded, ready for Dagster metadata."""

    result: MonitoringResult
    run_id: str
    html_path: Path
    model_version: str
    reasons: list[str]
    evidently_url: str
    data_snapshot: str

    def row(self) -> dict[str, Any]:
        r = self.result
        return {
            "report": r.report,
            "run_id": self.run_id,
            "run_at": pd.Timestamp(r.run_at),
            "reference_label": r.reference_label,
            "current_label": r.current_label,
            "reference_rows": r.reference_rows,
            "current_rows": r.current_rows,
            "drift_share": float(r.drift_share),
            "drifted_columns": int(r.drifted_columns),
            "columns": int(r.columns),
            "dataset_drift": bool(r.dataset_drift),
            "roc_auc": float(r.roc_auc),
            "reference_roc_auc": float(r.reference_roc_auc),
            "retrain": bool(self.reasons),
            "reasons": "; ".join(self.reasons),
            "notes": "; ".join(r.notes),
            "html_path": str(self.html_path),
            "model_version": self.model_version,
            "evidently_url": self.evidently_url,
            "data_snapshot": self.data_snapshot,
        }


@dataclass
class ChampionWindow:
    champion: Champion
    model: ChurnModel
    validation_snapshot: pd.Timestamp
    validation_roc_auc: float | None = None  # logged in the champion's run when it was trained


def champion_window(model_name: str) -> ChampionWindow:
    """The champion, its features, the last snapshot of its training window and its validation ROC-AUC
    (from its MLflow run)."""
    champion = get_alias(model_name)
    if champion is None:
        raise ValueError(f"no champion in registry '{model_name}': monitoring compares against the champion")
    with quiet_mlflow():
        model = load_churn_model(champion.uri)
        data = MlflowClient().get_run(champion.run_id).data
    if "validation_snapshot" not in data.params:
        raise ValueError(f"the champion's run {champion.run_id} has no validation_snapshot parameter")
    auc = data.metrics.get("roc_auc")
    return ChampionWindow(
        champion,
        model,
        pd.Timestamp(data.params["validation_snapshot"]),
        float(auc) if auc is not None else None,
    )


def _window_label(frame: pd.DataFrame) -> str:
    dates = pd.to_datetime(frame["snapshot_date"])
    return f"training window {dates.min():%Y-%m-%d}..{dates.max():%Y-%m-%d} ({len(frame):,} rows)"


def _reference(warehouse: Path, window: ChampionWindow) -> pd.DataFrame:
    frame = read_table(
        warehouse,
        f"select * from ml_training_set where snapshot_date <= '{window.validation_snapshot.date()}'",
    )
    if frame.empty:
        raise ValueError(
            f"ml_training_set has no rows up to {window.validation_snapshot.date()}, the champion's window"
        )
    return frame


def _current(warehouse: Path) -> pd.DataFrame:
    frame = read_table(warehouse, "select * from ml_scoring_set")
    if frame.empty:
        raise ValueError("ml_scoring_set is empty: nothing to compare with the training window")
    return frame


def _score(model: ChurnModel, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(model.spec.check(frame, "the monitoring rows")), dtype=float)


def _record(
    warehouse: Path,
    result: MonitoringResult,
    places: MonitoringPlaces,
    model_version: str,
    policy: MonitoringPolicy,
    data_snapshot: pd.Timestamp,
) -> RecordedReport:
    html = save_html(result, places.reports_dir)
    run = add_to_workspace(result, places.workspace_dir)
    if run is None:  # skipped: nothing for Evidently to show, the HTML page says why
        snapshot_id, url = f"skipped-{result.report}-{result.run_at:%Y%m%dT%H%M%S%f}", ""
    else:
        snapshot_id = run.snapshot_id
        url = f"{places.evidently_ui_url}/projects/{run.project_id}/reports/{snapshot_id}"
    recorded = RecordedReport(
        result,
        snapshot_id,
        html,
        model_version,
        result.retraining_reasons(policy),
        url,
        f"{data_snapshot:%Y-%m-%d}",
    )
    tables = {REPORT_RUNS: pd.DataFrame([recorded.row()])}
    if not result.column_drift.empty:
        columns = result.column_drift.copy()
        columns.insert(0, "run_id", snapshot_id)
        columns.insert(1, "report", result.report)
        columns.insert(2, "run_at", pd.Timestamp(result.run_at))
        tables[DRIFT_COLUMNS] = columns
    write_tables(warehouse, tables, append=tuple(tables))
    return recorded


def run_feature_drift(
    warehouse: Path, model_name: str, policy: MonitoringPolicy, places: MonitoringPlaces
) -> RecordedReport:
    """Every champion feature, the latest snapshot against the champion's training window."""
    window = champion_window(model_name)
    reference, current = _reference(warehouse, window), _current(warehouse)
    spec = window.model.spec
    result = feature_drift(
        reference,
        current,
        list(spec.numeric),
        list(spec.categorical),
        policy,
        reference_label=_window_label(reference),
        current_label=f"snapshot {pd.to_datetime(current['snapshot_date']).max():%Y-%m-%d} ({len(current):,} rows)",
    )
    return _record(warehouse, result, places, window.champion.version, policy, _latest(current))


def _latest(frame: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(pd.to_datetime(frame["snapshot_date"]).max())


def run_prediction_drift(
    warehouse: Path, model_name: str, policy: MonitoringPolicy, places: MonitoringPlaces
) -> RecordedReport:
    """The champion's probabilities on the latest snapshot against its probabilities on its training window."""
    window = champion_window(model_name)
    reference = _reference(warehouse, window)
    if len(reference) > policy.reference_sample_rows:
        reference = reference.sample(policy.reference_sample_rows, random_state=policy.seed)
    current = _current(warehouse)
    result = prediction_drift(
        pd.Series(_score(window.model, reference)),
        pd.Series(_score(window.model, current)),
        policy,
        reference_label=f"champion v{window.champion.version} on its {_window_label(reference)}",
        current_label=f"champion v{window.champion.version} on the latest snapshot ({len(current):,} customers)",
    )
    return _record(warehouse, result, places, window.champion.version, policy, _latest(current))


def run_model_performance(
    warehouse: Path, model_name: str, policy: MonitoringPolicy, places: MonitoringPlaces
) -> RecordedReport:
    """The champion on the newest snapshot whose labels have matured, against its validation snapshot."""
    window = champion_window(model_name)
    labelled = read_table(
        warehouse,
        "select * from ml_training_set where churned is not null and snapshot_date >= "
        f"'{window.validation_snapshot.date()}'",
    )
    if labelled.empty:
        raise ValueError("no matured labels at or after the champion's validation snapshot")
    dates = pd.to_datetime(labelled["snapshot_date"])
    newest = dates.max()
    reference = labelled[dates == window.validation_snapshot].copy()
    current = labelled[dates == newest].copy()
    if reference.empty:
        raise ValueError(
            f"the champion's validation snapshot {window.validation_snapshot.date()} has no labels"
        )
    reference["churn_probability"] = _score(window.model, reference)
    current["churn_probability"] = _score(window.model, current)
    same = newest == window.validation_snapshot
    result = model_performance(
        reference,
        current,
        policy,
        reference_label=f"validation snapshot {window.validation_snapshot:%Y-%m-%d} ({len(reference):,} rows)",
        current_label=f"matured snapshot {newest:%Y-%m-%d} ({len(current):,} rows)"
        + (" - no newer labels yet" if same else ""),
        reference_roc_auc=window.validation_roc_auc,
    )
    return _record(warehouse, result, places, window.champion.version, policy, newest)


RUNNERS = {
    "feature_drift": run_feature_drift,
    "prediction_drift": run_prediction_drift,
    MODEL_PERFORMANCE: run_model_performance,
}


@dataclass(frozen=True)
class RetrainingRequest:
    """A decision to retrain: one per data snapshot (the run key), with every reason found."""

    run_key: str
    reasons: list[str]


def retraining_request(
    reports: list[dict[str, Any]], policy: MonitoringPolicy, retrained_through: str | None = None
) -> RetrainingRequest | None:
    """Apply the policy to newly recorded reports; None when none of them calls for retraining.

    Reports on data the models were already retrained on (``retrained_through``: the newest snapshot the last
    training round could see) are passed over: retraining again on the same data cannot fix their drift. The
    run key names the data snapshot, so one retraining per snapshot however many reports drift, and the
    reports a retraining run writes itself never launch another.
    """
    reasons: list[str] = []
    snapshots: list[str] = []
    for summary in reports:
        if retrained_through and str(summary.get("data_snapshot") or "") <= retrained_through:
            continue
        found = retraining_reasons(summary, policy)
        reasons.extend(f"{summary.get('report')}: {reason}" for reason in found)
        if found:
            snapshots.append(str(summary.get("data_snapshot") or "unknown"))
    if not reasons:
        return None
    return RetrainingRequest(f"retrain-{max(snapshots)}", reasons)
