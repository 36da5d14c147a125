"""Publishing the dashboard's snapshots from a small real DuckDB warehouse."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from churn_platform.lib import dashboard_publish
from churn_platform.lib.dashboard_publish import (
    DASHBOARD_TABLES,
    monitoring_reports,
    publish_dashboard,
)
from tests.dashboard.warehouse import build

HEALTH = {"model_name": "churn_model", "champion_version": "2", "metrics": {"roc_auc": 0.81}}


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / f"{name}.parquet")


def test_everything_is_published_when_every_source_exists(tmp_path: Path) -> None:
    warehouse = build(tmp_path / "wh.duckdb")
    folder = tmp_path / "published"
    rows = publish_dashboard(warehouse, folder, HEALTH)
    assert dict(rows) == {
        "worklist": 4,
        "churn_trend": 5,
        "tier_mix": 6,
        "campaign_outcomes": 2,
        "playbook_effects": 5,
        "policy_values": 3,
        "allocation": 4,
        "high_risk_churn": 2,
        "nps_by_group": 2,
        "response_rates": 1,
        "monitoring": 3,
    }
    assert rows.skipped == {}
    assert set(rows) == set(DASHBOARD_TABLES)
    assert json.loads((folder / "model_health.json").read_text()) == HEALTH
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["rows"] == dict(rows)
    assert manifest["skipped"] == {}
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{n}.parquet" for n in DASHBOARD_TABLES] + ["manifest.json", "model_health.json"]
    )  # no temporary file left behind


def test_worklist_has_value_latest_decision_and_contact_status(tmp_path: Path) -> None:
    folder = tmp_path / "published"
    publish_dashboard(build(tmp_path / "wh.duckdb"), folder, HEALTH)
    w = read(folder, "worklist").set_index("customer_id")
    assert list(w.index) == ["C1", "C2", "C3", "C4"]  # latest scoring only, riskiest first
    assert list(w["risk_tier"]) == ["critical", "high", "medium", "low"]
    assert list(w["model_version"]) == ["2"] * 4
    assert w.loc["C1", ["company_name", "segment", "plan", "mrr"]].tolist() == ["Acme", "smb", "pro", 100.0]
    assert w.loc["C4", "mrr"] == 0.0
    assert list(w["valuable"]) == [True, True, False, False]
    assert list(w["decision"].fillna("-")) == ["control", "treat", "skip", "-"]
    assert w.loc["C1", "decision_reason"] == "held out as control"
    assert w.loc["C1", "playbook"] == "rescue"  # the newest decision wins over December's
    assert w.loc["C3", "decision_reason"] == "no consent"
    assert list(w["contact_status"]) == ["sent", "failed", "queued", "not contacted"]
    assert w.loc["C1", "last_contacted_at"] == pd.Timestamp("2025-12-02 09:05")
    assert pd.isna(w.loc["C2", "last_contacted_at"])
    assert w.loc["C1", "reason_1"] == "usage down"


def test_trend_and_tier_mix_use_segment_and_plan_at_the_snapshot(tmp_path: Path) -> None:
    folder = tmp_path / "published"
    publish_dashboard(build(tmp_path / "wh.duckdb"), folder, HEALTH)
    trend = read(folder, "churn_trend")
    trend["snapshot_date"] = trend["snapshot_date"].astype(str)
    dec = trend[trend["snapshot_date"] == "2025-12-01"].set_index("plan")
    assert dec.loc["basic", ["customers", "labelled", "churned"]].tolist() == [
        2,
        2,
        1,
    ]  # C1 was on basic then
    assert dec.loc["basic", "churn_rate"] == 0.5
    jan = trend[trend["snapshot_date"] == "2026-01-01"]
    assert jan["labelled"].sum() == 0
    assert jan["churn_rate"].isna().all()
    assert jan["customers"].sum() == 4
    mix = read(folder, "tier_mix")
    first = mix[mix["scored_at"] == pd.Timestamp("2025-12-02 08:00")].set_index("risk_tier")
    assert first["customers"].to_dict() == {"high": 1, "low": 2}
    assert mix["customers"].sum() == 7


def test_missing_sources_are_skipped_and_reported(tmp_path: Path) -> None:
    warehouse = build(tmp_path / "wh.duckdb", value=False, retention=False, monitoring=False)
    folder = tmp_path / "published"
    rows = publish_dashboard(warehouse, folder, HEALTH)
    assert set(rows) == {"worklist", "churn_trend", "tier_mix"}
    assert set(rows.skipped) == {
        "campaign_outcomes", "playbook_effects", "policy_values", "allocation", "high_risk_churn", "nps_by_group",
        "response_rates", "monitoring",
    }  # fmt: skip
    assert "retention.outcomes" in rows.skipped["campaign_outcomes"]
    assert "monitoring.report_runs" in rows.skipped["monitoring"]
    assert json.loads((folder / "manifest.json").read_text())["skipped"] == rows.skipped
    assert not (folder / "campaign_outcomes.parquet").exists()
    w = read(folder, "worklist")  # still published, without decisions, contacts or value
    assert len(w) == 4
    assert w["decision"].isna().all()
    assert not w["valuable"].any()
    assert set(w["contact_status"]) == {"not contacted"}
    assert monitoring_reports(warehouse) is None


def test_files_are_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = build(tmp_path / "wh.duckdb")
    folder = tmp_path / "published"
    publish_dashboard(warehouse, folder, {"champion_version": "1"})
    old_inode = (folder / "worklist.parquet").stat().st_ino
    with open(folder / "model_health.json") as reader:  # a reader that opened the old file
        publish_dashboard(warehouse, folder, {"champion_version": "2", "metrics": {"ece": math.nan}})
        assert json.load(reader) == {"champion_version": "1"}  # still reads the whole old file
    assert json.loads((folder / "model_health.json").read_text()) == {
        "champion_version": "2",
        "metrics": {"ece": None},  # JSON has no NaN
    }
    assert (folder / "worklist.parquet").stat().st_ino != old_inode  # a new file renamed over, not rewritten

    before = (folder / "churn_trend.parquet").read_bytes()
    spec = dashboard_publish.SPECS["churn_trend"]
    broken = dashboard_publish.TableSpec(spec.required, lambda _: "select * from no_such_table")
    monkeypatch.setitem(dashboard_publish.SPECS, "churn_trend", broken)
    with pytest.raises(Exception, match="no_such_table"):
        publish_dashboard(warehouse, folder, {})
    assert (folder / "churn_trend.parquet").read_bytes() == before  # a failed publish leaves the old file


def test_monitoring_reports_reads_the_table(tmp_path: Path) -> None:
    reports = monitoring_reports(build(tmp_path / "wh.duckdb"))
    assert reports is not None
    assert len(reports) == 3


def test_campaign_measures_product_managers_track(tmp_path: Path) -> None:
    folder = tmp_path / "published"
    publish_dashboard(build(tmp_path / "wh.duckdb"), folder, HEALTH)
    # allocation per wave and arm, control and the global holdout together
    allocation = read(folder, "allocation")
    december = allocation[pd.to_datetime(allocation["snapshot_date"]) == "2025-12-01"].set_index("arm")
    assert december["customers"].to_dict() == {"control": 2, "discount": 1}
    assert december["share"].sum() == pytest.approx(1.0)
    assert december.loc["discount", "mean_probability"] == pytest.approx(0.4)
    # churn among high-risk customers, treated vs control (C3 is medium risk: left out); matured labels only
    churn = read(folder, "high_risk_churn").set_index("group")
    assert churn["customers"].to_dict() == {"control": 1, "treated": 1}
    assert churn["churn_rate"].to_dict() == {"control": 0.0, "treated": 1.0}
    # NPS answered after the decision and within its horizon (C2's November answer is before it)
    nps = read(folder, "nps_by_group").set_index("group")
    assert nps["responses"].to_dict() == {"control": 1, "treated": 1}
    assert nps["nps"].to_dict() == {"control": 100.0, "treated": -100.0}
    # response rates from the provider's events of the sent message
    rates = read(folder, "response_rates").iloc[0]
    assert (rates["channel"], rates["sent"], rates["reported"]) == ("email", 1, 1)
    assert (rates["delivered_rate"], rates["open_rate"], rates["click_rate"]) == (1.0, 1.0, 0.0)


def test_decisions_made_before_arms_were_logged_skip_the_allocation(tmp_path: Path) -> None:
    import duckdb

    warehouse = build(tmp_path / "wh.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table retention.decisions drop column assignment_probability")
    rows = publish_dashboard(warehouse, tmp_path / "published", HEALTH)
    assert "allocation" in rows.skipped
    assert "campaign_outcomes" in rows
