"""Monitoring inside Dagster on a small company: calm months raise nothing, an outage is flagged and the drift
sensor launches retraining, which the promotion gate decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from churn_platform.definitions import defs
from churn_platform.simulate.config import SimulationConfig
from churn_platform.simulate.engine import simulate
from tests.conftest import make_company

SEED = 33
START = dt.date(2025, 1, 1)


@dataclass
class World:
    root: Path
    instance: dg.DagsterInstance
    defs: dg.Definitions
    sensor_cursor: str | None = None

    def run(
        self, selection: dg.AssetSelection, tags: dict[str, str] | None = None
    ) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_implicit_global_asset_job_def()
        keys = selection.resolve(self.defs.resolve_asset_graph())
        result = job.execute_in_process(
            instance=self.instance, asset_selection=list(keys), raise_on_error=False, tags=tags
        )
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
        return result

    def tick(self) -> dg.SensorResult:
        sensor = self.defs.resolve_sensor_def("drift_retraining_sensor")
        context = dg.build_sensor_context(
            instance=self.instance, definitions=self.defs, cursor=self.sensor_cursor
        )
        data = sensor.evaluate_tick(context)
        self.sensor_cursor = data.cursor
        return data  # type: ignore[return-value]

    def latest(self, report: str) -> dict[str, object]:
        con = duckdb.connect(str(self.root / "warehouse.duckdb"), read_only=True)
        try:
            frame = con.execute(
                "select * from monitoring.report_runs where report = ? order by run_at desc limit 1", [report]
            ).df()
        finally:
            con.close()
        return frame.iloc[0].to_dict()

    def advance(self, drift: str = "none") -> None:
        config = SimulationConfig(
            customers=1500,
            start=START,
            months=8,
            seed=SEED,
            landing=self.root / "landing",
            ground_truth=self.root / "ground_truth",
            drift=drift,  # type: ignore[arg-type]
        )
        simulate(config, advance_months=1)


NOT_CAMPAIGN = dg.AssetSelection.all() - dg.AssetSelection.assets("retention_targets").downstream()
TRAINING = dg.AssetSelection.assets("churn_model_candidates", "champion_model")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("monitoring")
    make_company(root, customers=1500, months=8, seed=SEED)
    with pytest.MonkeyPatch.context() as env, dg.instance_for_test() as instance:
        env.setenv("CHURN_DATA_DIR", str(root))
        loaded = defs()
        w = World(root, instance, loaded)
        w.run(NOT_CAMPAIGN)
        yield w


def test_reports_are_linked_from_dagster_and_accumulate_in_the_workspace(world: World) -> None:
    event = world.instance.get_latest_materialization_event(dg.AssetKey("feature_drift_report"))
    assert event is not None
    assert event.asset_materialization is not None
    meta = event.asset_materialization.metadata
    html = Path(str(meta["report_path"].value))
    assert html.is_file()
    assert html.stat().st_size > 10_000
    assert str(meta["report"].value).startswith("file://")
    assert "/projects/" in str(meta["evidently_ui"].value)
    for report in ("feature_drift", "prediction_drift", "model_performance"):
        row = world.latest(report)
        assert Path(str(row["html_path"])).is_file()
    assert (world.root / "evidently").is_dir()


def test_a_calm_month_raises_no_drift_and_no_retraining(world: World) -> None:
    world.tick()  # the first period's reports
    world.advance(drift="none")
    world.run(NOT_CAMPAIGN - TRAINING)
    row = world.latest("feature_drift")
    assert not row["retrain"], row["reasons"]
    assert float(row["drift_share"]) < 0.2  # type: ignore[arg-type]
    data = world.tick()
    assert not data.run_requests
    assert "within the policy's thresholds" in (data.skip_message or "")


def test_an_outage_is_flagged_and_the_sensor_launches_retraining_once(world: World) -> None:
    world.advance(drift="outage")
    world.run(NOT_CAMPAIGN - TRAINING)
    row = world.latest("feature_drift")
    assert row["retrain"], row
    assert float(row["drift_share"]) >= 0.2  # type: ignore[arg-type]
    cursor = world.sensor_cursor
    data = world.tick()
    assert len(data.run_requests or []) == 1, (cursor, data.cursor, data.skip_message)
    request = (data.run_requests or [])[0]
    assert request.tags["churn/trigger"] == "drift"
    assert "features drifted" in request.tags["churn/reason"]
    assert request.run_key == f"retrain-{row['data_snapshot']}"

    retraining = world.defs.resolve_job_def("retraining")
    result = retraining.execute_in_process(
        instance=world.instance, tags=dict(request.tags), raise_on_error=False
    )
    assert result.success
    gate = [c for c in result.get_asset_check_evaluations() if c.check_name == "beats_champion"]
    assert len(gate) == 1  # the new model passed through the same gate, whichever way it decided
    materialized = {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key
    }
    assert {
        "churn_model_candidates",
        "champion_model",
        "churn_scores",
        "feature_drift_report",
    } <= materialized
    assert not {"retention_targets", "campaign_sends"} & materialized  # campaigns follow via their own sensor
    # the retraining run's own reports are on data it was trained with: no second retraining
    again = world.tick()
    assert not again.run_requests
    assert f"already retrained on (through {row['data_snapshot']})" in (again.skip_message or "")


def test_alerts_reach_the_team_once_and_the_webhook_url_stays_secret(world: World) -> None:
    from tests.unit.test_alerts import SECRET, FakeWebhook

    hook = FakeWebhook()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("CHURN_DATA_DIR", str(world.root))
            env.setenv("CHURN_ALERT_WEBHOOK_URL", hook.url)
            env.setenv("CHURN_ALERT_EMAILS", "customer-success@example.com")
            loaded = defs()
            job = loaded.resolve_implicit_global_asset_job_def()
            runs = [
                job.execute_in_process(
                    instance=world.instance, asset_selection=[dg.AssetKey("monitoring_alerts")]
                )
                for _ in range(2)
            ]
        first = len(hook.accepted)
        texts = [body["text"] for body in hook.accepted]
        assert any("drift" in t.lower() for t in texts), texts
        assert first == len(set(texts))  # one post per finding
        mails = sorted((world.root / "outbox").glob("*.eml"))
        assert len(mails) == first  # the same findings by email, through the campaign outbox
        second = runs[1].asset_materializations_for_node("monitoring_alerts")[0].metadata
        assert second["sent"].value == 0
        assert second["already_sent"].value == first * 2  # webhook + one address, each already done
        for run in runs:
            logged = " ".join(
                str(e.message) + str(e.dagster_event.event_specific_data if e.dagster_event else "")
                for e in world.instance.all_logs(run.run_id)
            )
            assert SECRET not in logged
    finally:
        hook.close()
