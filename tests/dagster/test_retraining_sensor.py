"""The drift sensor on a real Dagster instance: it reads report materializations, applies today's policy file,
and asks for one retraining per data snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from churn_platform.definitions import defs
from churn_platform.settings import PROJECT_ROOT


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def _report(instance: dg.DagsterInstance, kind: str, snapshot: str, **numbers: float) -> None:
    metadata: dict[str, object] = {
        "report": dg.MetadataValue.url(f"file:///reports/{kind}.html"),  # the link, as the assets record it
        "data_snapshot": snapshot,
        **numbers,
    }
    instance.report_runless_asset_event(dg.AssetMaterialization(f"{kind}_report", metadata=metadata))  # type: ignore[arg-type]


def _tick(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    loaded = defs()
    sensor = loaded.resolve_sensor_def("drift_retraining_sensor")
    context = dg.build_sensor_context(instance=instance, definitions=loaded, cursor=cursor)
    return sensor.evaluate_tick(context)  # type: ignore[return-value]


def test_calm_reports_launch_nothing(instance: dg.DagsterInstance) -> None:
    _report(instance, "feature_drift", "2026-02-01", drift_share=0.04, drifted_columns=1, columns=30)
    _report(instance, "prediction_drift", "2026-02-01", drift_share=0.01)
    _report(instance, "model_performance", "2026-01-01", roc_auc=0.83, reference_roc_auc=0.82)
    data = _tick(instance)
    assert not data.run_requests
    assert (data.skip_message or "").startswith("3 new report(s), all within the policy's thresholds")


def test_drift_launches_one_retraining_per_snapshot(instance: dg.DagsterInstance) -> None:
    _report(instance, "feature_drift", "2026-02-01", drift_share=0.04, drifted_columns=1, columns=30)
    first = _tick(instance)
    _report(instance, "feature_drift", "2026-03-01", drift_share=0.5, drifted_columns=15, columns=30)
    _report(instance, "prediction_drift", "2026-03-01", drift_share=0.4)
    second = _tick(instance, first.cursor)
    assert len(second.run_requests or []) == 1
    request = (second.run_requests or [])[0]
    assert request.run_key == "retrain-2026-03-01"
    assert "15 of 30 features drifted" in request.tags["churn/reason"]
    assert "predictions drifted" in request.tags["churn/reason"]
    nothing_new = _tick(instance, second.cursor)
    assert not nothing_new.run_requests
    assert nothing_new.skip_message == "no new reports"


def test_a_performance_drop_launches_retraining(instance: dg.DagsterInstance) -> None:
    _report(instance, "model_performance", "2026-03-01", roc_auc=0.74, reference_roc_auc=0.82)
    data = _tick(instance)
    assert [r.run_key for r in data.run_requests or []] == ["retrain-2026-03-01"]
    assert "fell 0.080" in (data.run_requests or [])[0].tags["churn/reason"]


def test_thresholds_come_from_the_policy_file(
    instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = yaml.safe_load((PROJECT_ROOT / "churn_platform" / "policies" / "churn_policy.yaml").read_text())
    doc["monitoring"]["drift_share"] = 0.6
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("CHURN_POLICY_PATH", str(policy))
    _report(instance, "feature_drift", "2026-03-01", drift_share=0.5, drifted_columns=15, columns=30)
    assert not _tick(instance).run_requests


def test_no_retraining_on_data_the_models_were_already_retrained_on(instance: dg.DagsterInstance) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization("churn_model_candidates", metadata={"data_snapshot": "2026-03-01"})
    )
    _report(instance, "feature_drift", "2026-03-01", drift_share=0.5, drifted_columns=15, columns=30)
    data = _tick(instance)
    assert not data.run_requests
    assert "already retrained on (through 2026-03-01)" in (data.skip_message or "")
    _report(instance, "feature_drift", "2026-04-01", drift_share=0.5, drifted_columns=15, columns=30)
    assert [r.run_key for r in _tick(instance, data.cursor).run_requests or []] == ["retrain-2026-04-01"]
