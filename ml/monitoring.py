"""Monitoring with Evidently: is today's population still the one the champion learnt from, and does it still work?

Three questions, one report each:

- **feature drift**: each feature of the latest snapshot against the champion's training window (distances,
  not p-values, so a million rows do not make every wiggle "significant");
- **prediction drift**: the champion's probabilities today against its probabilities on that window;
- **performance**: once labels have matured, the champion on the newest labelled snapshot against the same
  champion on the snapshot it was validated on; the alarm is a drop below the champion's own validation
  ROC-AUC (what a good ROC-AUC is depends on the company), with an optional absolute floor.

Missing data is reported, never a crash: a feature with no values in the reference or the current window is
left out of the drift report and named in its ``notes``; a report with nothing to compare (no rows on one
side) comes back ``skipped`` with a note, a one-page HTML saying why and no Evidently run.

Every report is a self-contained HTML file and an Evidently snapshot added to a local workspace project, so
the Evidently UI shows the trend run after run. The numbers that matter (drift share, ROC-AUC) come back as
plain values: they drive the retraining sensor and the alerts. Nothing here knows about Dagster or DuckDB.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.metrics import evaluate
from ml.models import widen_to_float
from ml.policy import MonitoringPolicy

FEATURE_DRIFT = "feature_drift"
PREDICTION_DRIFT = "prediction_drift"
MODEL_PERFORMANCE = "model_performance"
REPORTS = (FEATURE_DRIFT, PREDICTION_DRIFT, MODEL_PERFORMANCE)
PROBABILITY = "churn_probability"
LABEL = "churned"
PROJECT_NAME = "Churn Platform"

# Evidently's method names for distances (drift when the score is at or above the threshold); every other
# method is a statistical test whose score is a p-value (drift when below).
_DISTANCES = ("wasserstein", "jensen", "psi", "kullback", "kl_div", "hellinger", "energy", "total variation")


@dataclass
class MonitoringResult:
    """One report's verdict in plain numbers, with the Evidently snapshot that renders it."""

    report: str
    snapshot: Any  # evidently.core.report.Snapshot; None when the report was skipped
    reference_rows: int
    current_rows: int
    reference_label: str
    current_label: str
    drift_share: float = float("nan")
    drifted_columns: int = 0
    columns: int = 0
    dataset_drift: bool = False
    roc_auc: float = float("nan")
    reference_roc_auc: float = float("nan")
    column_drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    run_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    notes: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        """Nothing could be compared (no rows on one side): no Evidently run, only notes saying why."""
        return self.snapshot is None

    def retraining_reasons(self, policy: MonitoringPolicy) -> list[str]:
        """Why this report calls for retraining under the policy (empty when it does not)."""
        return retraining_reasons(self.summary(), policy)

    def summary(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "columns": self.columns,
            "dataset_drift": self.dataset_drift,
            "roc_auc": self.roc_auc,
            "reference_roc_auc": self.reference_roc_auc,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "notes": "; ".join(self.notes),
        }


def retraining_reasons(summary: dict[str, Any], policy: MonitoringPolicy) -> list[str]:
    """The policy's retraining rule on one report's numbers: a list of human reasons, empty when all is well.

    Kept apart from Evidently so the sensor can apply it to the numbers stored in Dagster metadata.
    """
    reasons: list[str] = []
    report = summary.get("report")
    share = _num(summary.get("drift_share"))
    if report == FEATURE_DRIFT and share is not None and share >= policy.drift_share:
        reasons.append(
            f"{summary.get('drifted_columns')} of {summary.get('columns')} features drifted "
            f"(share {share:.0%} >= {policy.drift_share:.0%})"
        )
    if report == PREDICTION_DRIFT and share is not None and share >= policy.prediction_drift_threshold:
        reasons.append(
            f"the champion's predictions drifted (distance {share:.3f} >= {policy.prediction_drift_threshold})"
        )
    auc = _num(summary.get("roc_auc"))
    ref_auc = _num(summary.get("reference_roc_auc"))
    if report == MODEL_PERFORMANCE and auc is not None:
        if ref_auc is not None and ref_auc - auc > policy.max_roc_auc_drop:
            reasons.append(
                f"ROC-AUC fell {ref_auc - auc:.3f} below the champion's validation ROC-AUC "
                f"({ref_auc:.3f} -> {auc:.3f}), more than {policy.max_roc_auc_drop}"
            )
        if policy.min_roc_auc is not None and auc < policy.min_roc_auc:
            reasons.append(f"ROC-AUC on the newest matured labels {auc:.3f} < the floor {policy.min_roc_auc}")
    return reasons


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out


def _is_distance(method: str) -> bool:
    return any(name in method.lower() for name in _DISTANCES)


def _column_drift(snapshot: Any) -> pd.DataFrame:
    """Per-column scores from the snapshot's ValueDrift metrics, with the drift verdict Evidently applies."""
    rows = []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        method, threshold, score = (
            str(config.get("method")),
            float(config["threshold"]),
            float(metric["value"]),
        )
        drifted = score >= threshold if _is_distance(method) else score < threshold
        rows.append(
            {
                "column": config["column"],
                "method": method,
                "score": score,
                "threshold": threshold,
                "drifted": drifted,
            }
        )
    frame = pd.DataFrame(rows, columns=["column", "method", "score", "threshold", "drifted"])
    return frame.sort_values("score", ascending=False, ignore_index=True)


def _sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame if len(frame) <= rows else frame.sample(rows, random_state=seed)


def _skipped(
    report: str, reference_rows: int, current_rows: int, reference_label: str, current_label: str, note: str
) -> MonitoringResult:
    return MonitoringResult(
        report, None, reference_rows, current_rows, reference_label, current_label, notes=[note]
    )


def columns_without_values(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> dict[str, str]:
    """Columns with no value at all on a side, each with a note: drift cannot be measured on them."""
    out: dict[str, str] = {}
    for col in columns:
        ref_empty, cur_empty = bool(reference[col].isna().all()), bool(current[col].isna().all())
        if ref_empty or cur_empty:
            where = (
                "either side"
                if ref_empty and cur_empty
                else "the reference"
                if ref_empty
                else "the current data"
            )
            out[col] = f"{col} left out: no values in {where}"
    return out


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    policy: MonitoringPolicy,
    reference_label: str = "training window",
    current_label: str = "latest snapshot",
) -> MonitoringResult:
    """Drift of every model feature, the latest snapshot against the training window.

    A column missing from either frame is an error (the feature mart and the model disagree). A column with
    no values on one side is left out and named in ``notes``; with no rows on one side, or no column left,
    the result is ``skipped`` with a note.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    columns = [*numeric, *categorical]
    missing = [c for c in columns if c not in current.columns or c not in reference.columns]
    if missing:
        raise ValueError(f"feature drift: column(s) {missing} missing from the reference or current data")
    if current.empty or reference.empty:
        return _skipped(
            FEATURE_DRIFT, len(reference), len(current), reference_label, current_label,
            f"feature drift not measured: no rows in the {'reference' if reference.empty else 'current'} data "
            f"(reference {len(reference):,}, current {len(current):,})",
        )  # fmt: skip
    empty = columns_without_values(reference, current, columns)
    notes = list(empty.values())
    numeric = [c for c in numeric if c not in empty]
    categorical = [c for c in categorical if c not in empty]
    columns = [*numeric, *categorical]
    if not columns:
        return _skipped(
            FEATURE_DRIFT, len(reference), len(current), reference_label, current_label,
            "feature drift not measured: no feature has values on both sides (" + "; ".join(notes) + ")",
        )  # fmt: skip
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    ref = _sample(reference[columns], policy.reference_sample_rows, policy.seed)
    preset = DataDriftPreset(
        columns=columns,
        drift_share=policy.drift_share,
        num_method=policy.num_method,
        cat_method=policy.cat_method,
        num_threshold=policy.column_threshold,
        cat_threshold=policy.column_threshold,
    )
    snapshot = Report([preset], tags=[FEATURE_DRIFT], metadata=_metadata(FEATURE_DRIFT, notes)).run(
        Dataset.from_pandas(widen_to_float(current[columns]), data_definition=definition),
        Dataset.from_pandas(widen_to_float(ref), data_definition=definition),
        name=f"Feature drift: {current_label} vs {reference_label}",
    )
    per_column = _column_drift(snapshot)
    drifted = int(per_column["drifted"].sum())
    share = drifted / len(columns) if columns else 0.0
    return MonitoringResult(
        FEATURE_DRIFT,
        snapshot,
        len(reference),
        len(current),
        reference_label,
        current_label,
        drift_share=share,
        drifted_columns=drifted,
        columns=len(columns),
        dataset_drift=share >= policy.drift_share,
        column_drift=per_column,
        notes=notes,
    )


def _metadata(report: str, notes: list[str]) -> dict[str, Any]:
    return {"report": report, **({"notes": "; ".join(notes)} if notes else {})}


def prediction_drift(
    reference: pd.Series,
    current: pd.Series,
    policy: MonitoringPolicy,
    reference_label: str = "champion on the training window",
    current_label: str = "latest scores",
) -> MonitoringResult:
    """Drift of the champion's churn probabilities: the population it sees today scores differently."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataSummaryPreset

    reference, current = reference.dropna(), current.dropna()
    if current.empty or reference.empty:
        return _skipped(
            PREDICTION_DRIFT, len(reference), len(current), reference_label, current_label,
            f"prediction drift not measured: no scores in the {'reference' if reference.empty else 'current'} "
            f"data (reference {len(reference):,}, current {len(current):,})",
        )  # fmt: skip
    definition = DataDefinition(numerical_columns=[PROBABILITY])
    ref = _sample(
        pd.DataFrame({PROBABILITY: reference.astype(float)}), policy.reference_sample_rows, policy.seed
    )
    cur = pd.DataFrame({PROBABILITY: current.astype(float).to_numpy()})
    report = Report(
        [
            ValueDrift(
                column=PROBABILITY, method=policy.num_method, threshold=policy.prediction_drift_threshold
            ),
            DataSummaryPreset(columns=[PROBABILITY]),
        ],
        tags=[PREDICTION_DRIFT],
        metadata={"report": PREDICTION_DRIFT},
    )
    snapshot = report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
        name=f"Prediction drift: {current_label} vs {reference_label}",
    )
    per_column = _column_drift(snapshot)
    row = per_column.iloc[0]
    return MonitoringResult(
        PREDICTION_DRIFT,
        snapshot,
        len(reference),
        len(current),
        reference_label,
        current_label,
        drift_share=float(row["score"]),
        drifted_columns=int(row["drifted"]),
        columns=1,
        dataset_drift=bool(row["drifted"]),
        column_drift=per_column,
    )


def model_performance(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    policy: MonitoringPolicy,
    reference_label: str = "validation snapshot",
    current_label: str = "newest matured snapshot",
    reference_roc_auc: float | None = None,
) -> MonitoringResult:
    """The champion on matured labels: classification quality now against when it was validated.

    Both frames hold ``churned`` (0/1) and ``churn_probability``. ``reference_roc_auc`` is the champion's
    validation ROC-AUC as logged when it was trained (what the allowed drop is measured from); without it,
    the ROC-AUC on ``reference`` stands in. No rows on a side: ``skipped`` with a note. Labels of one class
    only: ValueError (ROC-AUC is undefined).
    """
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.presets import ClassificationPreset

    for name, frame in (("reference", reference), ("current", current)):
        missing = {LABEL, PROBABILITY} - set(frame.columns)
        if missing:
            raise ValueError(f"model performance: {name} data lacks column(s) {sorted(missing)}")
    if reference.empty or current.empty:
        return _skipped(
            MODEL_PERFORMANCE, len(reference), len(current), reference_label, current_label,
            f"model performance not measured: no labelled rows in the "
            f"{'reference' if reference.empty else 'current'} data (reference {len(reference):,}, "
            f"current {len(current):,})",
        )  # fmt: skip
    for name, frame in (("reference", reference), ("current", current)):
        if frame[LABEL].nunique() < 2:
            raise ValueError(
                f"model performance: the {name} labels are all {frame[LABEL].iloc[0] if len(frame) else 'missing'}"
                " - ROC-AUC needs churners and stayers"
            )
    definition = DataDefinition(
        classification=[BinaryClassification(target=LABEL, prediction_probas=PROBABILITY, pos_label=1)],
        numerical_columns=[PROBABILITY],
        categorical_columns=[LABEL],
    )

    def dataset(frame: pd.DataFrame) -> Any:
        data = pd.DataFrame(
            {
                LABEL: frame[LABEL].astype(int).to_numpy(),
                PROBABILITY: frame[PROBABILITY].astype(float).to_numpy(),
            }
        )
        return Dataset.from_pandas(data, data_definition=definition)

    # precision and recall where the business acts: the top decile of the reference scores, not 0.5
    threshold = float(np.quantile(reference[PROBABILITY].astype(float), 0.9))
    snapshot = Report(
        [ClassificationPreset(probas_threshold=threshold)],
        tags=[MODEL_PERFORMANCE],
        metadata=_metadata(MODEL_PERFORMANCE, []),
    ).run(
        dataset(current), dataset(reference), name=f"Model performance: {current_label} vs {reference_label}"
    )
    now = evaluate(current[LABEL].astype(int).to_numpy(), current[PROBABILITY].to_numpy())
    then = evaluate(reference[LABEL].astype(int).to_numpy(), reference[PROBABILITY].to_numpy())
    result = MonitoringResult(
        MODEL_PERFORMANCE,
        snapshot,
        len(reference),
        len(current),
        reference_label,
        current_label,
        roc_auc=now["roc_auc"],
        reference_roc_auc=then["roc_auc"] if reference_roc_auc is None else float(reference_roc_auc),
    )
    if reference_roc_auc is not None:
        result.notes.append(
            f"ROC-AUC on the validation snapshot today {then['roc_auc']:.3f}; "
            f"the champion's validation ROC-AUC when it was trained {float(reference_roc_auc):.3f}"
        )
    result.dataset_drift = bool(result.retraining_reasons(policy))
    return result


def _notes_html(result: MonitoringResult) -> str:
    items = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    return (
        '<div id="churn-platform-notes" style="font-family: sans-serif; margin: 12px 24px; padding: 8px 16px; '
        'border: 1px solid #d9a400; background: #fff8e1;"><strong>Notes on this report</strong>'
        f"<ul>{items}</ul></div>"
    )


def _skipped_page(result: MonitoringResult) -> str:
    title = html.escape(f"{result.report.replace('_', ' ').capitalize()}: not measured")
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<h1 style='font-family: sans-serif; margin: 12px 24px'>{title}</h1>"
        f"<p style='font-family: sans-serif; margin: 12px 24px'>{html.escape(result.current_label)} against "
        f"{html.escape(result.reference_label)}, run {result.run_at:%Y-%m-%d %H:%M} UTC</p>"
        f"{_notes_html(result)}</body></html>"
    )


def save_html(result: MonitoringResult, folder: Path) -> Path:
    """Write the self-contained HTML report (timestamped, plus ``latest.html``), atomically.

    The report's notes (features left out, why it was skipped) head the page; a skipped report is a short
    page with its notes only.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result.run_at.strftime("%Y%m%dT%H%M%S%f")
    final = folder / f"{result.report}-{stamp}.html"
    tmp = folder / f".{final.name}.tmp"
    if result.skipped:
        tmp.write_text(_skipped_page(result), encoding="utf-8")
    else:
        result.snapshot.save_html(str(tmp))
        if result.notes:
            page = tmp.read_text(encoding="utf-8")
            at = page.find("<body>")
            if at >= 0:
                at += len("<body>")
                tmp.write_text(page[:at] + _notes_html(result) + page[at:], encoding="utf-8")
    os.replace(tmp, final)
    latest_tmp = folder / f".{result.report}-latest.html.tmp"
    shutil.copyfile(final, latest_tmp)
    os.replace(latest_tmp, folder / f"{result.report}-latest.html")
    return final


def _project(workspace: Any, name: str) -> Any:
    """The workspace project, created once with panels that plot the trend across runs."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import counter_panel, line_plot_panel

    found = workspace.search_project(name)
    if found:
        return found[0]
    project = workspace.create_project(name)
    project.description = "Churn model monitoring: feature drift, prediction drift and matured performance."
    project.save()
    project.dashboard.add_panel(
        counter_panel(
            title="Share of drifted features (latest run)",
            size="half",
            values=[
                PanelMetric(
                    legend="share",
                    metric="DriftedColumnsCount",
                    tags=[FEATURE_DRIFT],
                    metric_labels={"value_type": "share"},
                )
            ],
            aggregation="last",
        )
    )
    project.dashboard.add_panel(
        line_plot_panel(
            title="Share of drifted features, run after run",
            size="half",
            values=[
                PanelMetric(
                    legend="share",
                    metric="DriftedColumnsCount",
                    tags=[FEATURE_DRIFT],
                    metric_labels={"value_type": "share"},
                )
            ],
        )
    )
    project.dashboard.add_panel(
        line_plot_panel(
            title="Prediction drift (Wasserstein distance of churn probabilities)",
            size="half",
            values=[PanelMetric(legend="churn_probability", metric="ValueDrift", tags=[PREDICTION_DRIFT])],
        )
    )
    project.dashboard.add_panel(
        line_plot_panel(
            title="ROC-AUC on matured labels",
            size="half",
            values=[PanelMetric(legend="ROC-AUC", metric="RocAuc", tags=[MODEL_PERFORMANCE])],
        )
    )
    return project


@dataclass(frozen=True)
class WorkspaceRun:
    """Where a run landed in the Evidently workspace: enough to link to it in the UI."""

    project_id: str
    snapshot_id: str


def add_to_workspace(
    result: MonitoringResult, workspace_dir: Path, project_name: str = PROJECT_NAME
) -> WorkspaceRun | None:
    """Add the run to the Evidently workspace project (created on first use); None for a skipped report."""
    from evidently.ui.workspace import Workspace

    if result.skipped:
        return None
    workspace_dir.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(str(workspace_dir))
    project = _project(workspace, project_name)
    ref = workspace.add_run(project.id, result.snapshot)
    return WorkspaceRun(str(project.id), str(ref.id))
