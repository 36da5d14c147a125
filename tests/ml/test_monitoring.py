"""Evidently monitoring as plain functions: drift found where the data moved and not where it did not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_platform.lib.monitoring import retraining_request
from ml.monitoring import (
    FEATURE_DRIFT,
    MODEL_PERFORMANCE,
    PREDICTION_DRIFT,
    add_to_workspace,
    feature_drift,
    model_performance,
    prediction_drift,
    retraining_reasons,
    save_html,
)
from ml.policy import MonitoringPolicy

POLICY = MonitoringPolicy()


def _customers(n: int, seed: int, usage_scale: float = 1.0, price_scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "login_30d": rng.poisson(20 * usage_scale, n).astype(float),
            "events_30d": rng.poisson(120 * usage_scale, n).astype(float),
            "session_seconds_30d": rng.gamma(2.0, 900 * usage_scale, n),
            "tickets_30d": rng.poisson(0.3 / usage_scale, n).astype(float),
            "mrr": rng.lognormal(np.log(300 * price_scale), 0.6, n),
            "tenure_days": rng.integers(30, 900, n).astype(float),
            "plan": rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.35, 0.15]),
            "segment": rng.choice(["smb", "mid", "ent"], n, p=[0.6, 0.3, 0.1]),
        }
    )


NUMERIC = ["login_30d", "events_30d", "session_seconds_30d", "tickets_30d", "mrr", "tenure_days"]
CATEGORICAL = ["plan", "segment"]


def test_no_drift_between_two_samples_of_the_same_population() -> None:
    result = feature_drift(_customers(6000, 1), _customers(2000, 2), NUMERIC, CATEGORICAL, POLICY)
    assert result.drifted_columns == 0
    assert not result.dataset_drift
    assert result.retraining_reasons(POLICY) == []
    assert set(result.column_drift["column"]) == set(NUMERIC + CATEGORICAL)


def test_an_outage_drifts_the_usage_features_and_calls_for_retraining() -> None:
    result = feature_drift(
        _customers(6000, 1), _customers(2000, 2, usage_scale=0.4), NUMERIC, CATEGORICAL, POLICY
    )
    drifted = set(result.column_drift.loc[result.column_drift["drifted"], "column"])
    assert {"login_30d", "events_30d", "session_seconds_30d"} <= drifted
    assert "plan" not in drifted
    assert "tenure_days" not in drifted
    assert result.dataset_drift
    assert result.drift_share == pytest.approx(len(drifted) / 8)
    assert "features drifted" in result.retraining_reasons(POLICY)[0]


def test_a_price_rise_drifts_mrr_only() -> None:
    result = feature_drift(
        _customers(6000, 1), _customers(2000, 2, price_scale=1.6), NUMERIC, CATEGORICAL, POLICY
    )
    assert list(result.column_drift.loc[result.column_drift["drifted"], "column"]) == ["mrr"]
    assert not result.dataset_drift  # 1 of 8 features is below the 20% share


def test_feature_drift_names_missing_columns() -> None:
    with pytest.raises(ValueError, match="tickets_30d"):
        feature_drift(
            _customers(100, 1).drop(columns=["tickets_30d"]), _customers(100, 2), NUMERIC, [], POLICY
        )


def test_prediction_drift_follows_the_scores() -> None:
    rng = np.random.default_rng(3)
    reference = pd.Series(rng.beta(1, 20, 5000))
    same = prediction_drift(reference, pd.Series(rng.beta(1, 20, 2000)), POLICY)
    moved = prediction_drift(reference, pd.Series(rng.beta(3, 12, 2000)), POLICY)
    assert not same.dataset_drift
    assert same.retraining_reasons(POLICY) == []
    assert moved.dataset_drift
    assert "predictions drifted" in moved.retraining_reasons(POLICY)[0]


def _labelled(n: int, seed: int, signal: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.1
    p = np.clip(0.1 + signal * (y - 0.1) + rng.normal(0, 0.08, n), 0.001, 0.999)
    return pd.DataFrame({"churned": y.astype(int), "churn_probability": p})


def test_performance_report_flags_a_model_that_stopped_working() -> None:
    reference = _labelled(3000, 4, signal=0.3)
    healthy = model_performance(reference, _labelled(3000, 5, signal=0.3), POLICY)
    decayed = model_performance(reference, _labelled(3000, 6, signal=0.02), POLICY)
    assert healthy.roc_auc > 0.9
    assert healthy.retraining_reasons(POLICY) == []
    assert decayed.roc_auc < 0.7
    reasons = decayed.retraining_reasons(POLICY)
    assert len(reasons) == 1, "no absolute floor by default"
    assert "below the champion's validation ROC-AUC" in reasons[0]
    with_floor = decayed.retraining_reasons(MonitoringPolicy(min_roc_auc=0.7))
    assert any("< the floor 0.7" in r for r in with_floor)


def test_performance_needs_both_classes() -> None:
    frame = _labelled(200, 7, 0.3).assign(churned=0)
    with pytest.raises(ValueError, match="churners and stayers"):
        model_performance(_labelled(200, 8, 0.3), frame, POLICY)


def test_reports_are_saved_and_accumulate_in_the_workspace(tmp_path: Path) -> None:
    first = feature_drift(_customers(500, 1), _customers(500, 2), NUMERIC, CATEGORICAL, POLICY)
    second = feature_drift(
        _customers(500, 1), _customers(500, 3, usage_scale=0.4), NUMERIC, CATEGORICAL, POLICY
    )
    html = save_html(first, tmp_path / "reports")
    assert html.exists()
    assert "<html" in html.read_text()[:2000].lower()
    assert (tmp_path / "reports" / f"{FEATURE_DRIFT}-latest.html").exists()
    runs = [add_to_workspace(r, tmp_path / "ws") for r in (first, second)]
    assert len({run.snapshot_id for run in runs}) == 2
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(tmp_path / "ws"))
    project = runs[0].project_id
    assert runs[1].project_id == project
    assert len(workspace.list_runs(project)) == 2
    assert len(workspace.list_projects()) == 1  # the second run found the project, not a new one


def test_thresholds_come_from_the_policy() -> None:
    summary = {"report": FEATURE_DRIFT, "drift_share": 0.25, "drifted_columns": 6, "columns": 24}
    assert retraining_reasons(summary, MonitoringPolicy(drift_share=0.2))
    assert not retraining_reasons(summary, MonitoringPolicy(drift_share=0.3))
    perf = {"report": MODEL_PERFORMANCE, "roc_auc": 0.80, "reference_roc_auc": 0.82}
    assert not retraining_reasons(perf, MonitoringPolicy(max_roc_auc_drop=0.03))
    assert retraining_reasons(perf, MonitoringPolicy(max_roc_auc_drop=0.01))
    pred = {"report": PREDICTION_DRIFT, "drift_share": 0.05}
    assert not retraining_reasons(pred, POLICY)
    assert retraining_reasons(pred, MonitoringPolicy(prediction_drift_threshold=0.04))


def test_one_retraining_per_data_snapshot() -> None:
    calm = {
        "report": FEATURE_DRIFT,
        "drift_share": 0.0,
        "drifted_columns": 0,
        "columns": 24,
        "data_snapshot": "2026-02-01",
    }
    drift = {**calm, "drift_share": 0.5, "drifted_columns": 12}
    assert retraining_request([calm], POLICY) is None
    first = retraining_request([calm, drift], POLICY)
    again = retraining_request([drift], POLICY)
    assert first is not None
    assert again is not None
    assert first.run_key == again.run_key == "retrain-2026-02-01"
    assert retraining_request([drift], POLICY, retrained_through="2026-02-01") is None
    assert retraining_request([drift], POLICY, retrained_through="2026-01-01") is not None
    later = retraining_request([{**drift, "data_snapshot": "2026-03-01"}], POLICY)
    assert later is not None
    assert later.run_key != first.run_key


def test_a_bad_monitoring_policy_names_the_file_and_key(tmp_path: Path) -> None:
    import yaml

    from churn_platform.settings import PROJECT_ROOT
    from ml.policy import PolicyError, load_policy

    doc = yaml.safe_load((PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml").read_text())
    assert (
        load_policy(PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml").monitoring.drift_share
        == 0.2
    )
    doc["monitoring"]["drift_share"] = 1.5
    doc["monitoring"]["drift_shares"] = 0.2
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert str(path) in message
    assert "monitoring.drift_share:" in message
    assert "monitoring.drift_shares" in message


def test_a_feature_with_no_values_is_left_out_of_the_drift_report_and_named(tmp_path: Path) -> None:
    reference, current = _customers(3000, 1), _customers(1000, 2)
    reference["days_to_onboard"] = np.nan  # a company without onboarding dates
    current["days_to_onboard"] = np.nan
    reference["latest_nps"] = np.random.default_rng(0).integers(0, 11, len(reference)).astype(float)
    current["latest_nps"] = np.nan  # the survey export stopped
    reference["channel"] = None
    current["channel"] = "web"
    result = feature_drift(
        reference, current, [*NUMERIC, "days_to_onboard", "latest_nps"], [*CATEGORICAL, "channel"], POLICY
    )
    assert not result.skipped
    assert result.columns == len(NUMERIC) + len(CATEGORICAL)
    assert set(result.column_drift["column"]) == set(NUMERIC + CATEGORICAL)
    assert result.notes == [
        "days_to_onboard left out: no values in either side",
        "latest_nps left out: no values in the current data",
        "channel left out: no values in the reference",
    ]
    assert "latest_nps left out" in result.summary()["notes"]
    assert result.retraining_reasons(POLICY) == []
    page = save_html(result, tmp_path).read_text(encoding="utf-8")
    assert "latest_nps left out: no values in the current data" in page
    assert page.index("<body") < page.index("churn-platform-notes") < page.index("root_metric")


def test_reports_with_nothing_to_compare_are_skipped_with_a_note(tmp_path: Path) -> None:
    empty = _customers(0, 1)
    drift = feature_drift(_customers(500, 1), empty, NUMERIC, CATEGORICAL, POLICY)
    assert drift.skipped
    assert drift.notes == [
        "feature drift not measured: no rows in the current data (reference 500, current 0)"
    ]
    assert drift.retraining_reasons(POLICY) == []
    all_null = _customers(300, 1)[["login_30d"]].assign(login_30d=np.nan)
    nothing = feature_drift(all_null, _customers(300, 2), ["login_30d"], [], POLICY)
    assert nothing.skipped
    assert "no feature has values on both sides" in nothing.notes[0]
    scores = prediction_drift(
        pd.Series(np.random.default_rng(1).random(100)), pd.Series([], dtype=float), POLICY
    )
    assert scores.skipped
    assert "no scores in the current data" in scores.notes[0]
    labelled = _labelled(200, 1, 0.3)
    performance = model_performance(labelled, labelled.iloc[0:0], POLICY)
    assert performance.skipped
    assert "no labelled rows in the current data" in performance.notes[0]
    assert np.isnan(performance.roc_auc)
    page = save_html(scores, tmp_path).read_text(encoding="utf-8")
    assert "Prediction drift: not measured" in page
    assert "no scores in the current data" in page
    assert add_to_workspace(scores, tmp_path / "ws") is None


def test_the_drop_is_measured_from_the_champions_logged_validation_roc_auc() -> None:
    # the validation rows as they read today score as weakly as the newest ones ...
    reference, current = _labelled(3000, 4, signal=0.05), _labelled(3000, 5, signal=0.05)
    recomputed = model_performance(reference, current, POLICY)
    assert recomputed.reference_roc_auc == pytest.approx(recomputed.roc_auc, abs=0.03)
    assert recomputed.retraining_reasons(POLICY) == []
    # ... but the champion showed 0.95 when it was validated: that is what it is held to
    as_logged = model_performance(reference, current, POLICY, reference_roc_auc=0.95)
    assert as_logged.reference_roc_auc == 0.95
    assert "validation ROC-AUC when it was trained 0.950" in as_logged.notes[0]
    assert "below the champion's validation ROC-AUC (0.950 ->" in as_logged.retraining_reasons(POLICY)[0]
    assert MonitoringPolicy().min_roc_auc is None
