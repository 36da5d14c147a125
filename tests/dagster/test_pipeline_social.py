"""The whole graph on the second company, a consumer app, with no code change: only its profile differs.

Nine event types, monthly renewals, reactivations, dozens of countries, a date of birth, no NPS, no tickets, no
invoices and about 2% monthly churn: ingestion quarantines nothing, every check passes, the models learn from its
own event types, the tiers give a worklist, reasons speak its words, monitoring runs, and the dashboard is
published.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from churn_platform.definitions import defs
from tests.conftest import make_company


def _query(root: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def social(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dg.ExecuteInProcessResult]:
    root = tmp_path_factory.mktemp("social")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CHURN_COMPANY_PROFILE", "social")
        env.setenv("CHURN_DATA_DIR", str(root))
        env.setenv("CHURN_ALERT_EMAILS", "owners@example.com")
        summary = make_company(root, customers=2500, months=8, seed=5, profile="social")
        assert summary.rows.get("nps_responses", 0) == 0
        loaded = defs()
        job = loaded.resolve_implicit_global_asset_job_def()
        keys = dg.AssetSelection.all().resolve(loaded.resolve_asset_graph())
        result = job.execute_in_process(asset_selection=list(keys), raise_on_error=False)
    return root, result


def test_the_whole_graph_runs_green_on_the_consumer_app(
    social: tuple[Path, dg.ExecuteInProcessResult],
) -> None:
    root, result = social
    failures = [e.message for e in result.all_events if e.is_step_failure]
    assert result.success, failures
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 20
    failed = [f"{c.asset_key.to_user_string()}:{c.check_name}" for c in checks if not c.passed]
    assert failed == [], failed
    assert _query(root, "select count(*) n from raw._quarantine")["n"].iloc[0] == 0
    assert _query(root, "select count(*) n from raw._rejected_files")["n"].iloc[0] == 0


def test_its_own_event_types_and_attributes_are_the_features(
    social: tuple[Path, dg.ExecuteInProcessResult],
) -> None:
    root, _ = social
    columns = set(_query(root, "select * from ml_training_set limit 1").columns)
    for feature in (
        "post_30d",
        "message_change_pct",
        "days_since_last_reply",
        "video_view_seconds_30d",
        "age",
    ):
        assert feature in columns
    for absent in ("logins_30d", "usage_decline_pct"):
        assert absent not in columns
    # the company has no NPS and no tickets: those mart columns are empty, and the champion leaves them out
    assert _query(root, "select count(latest_nps) n from ml_training_set")["n"].iloc[0] == 0
    used = set(_query(root, 'select distinct "column" from monitoring.drift_columns')["column"])
    assert {"post_30d", "message_change_pct", "age"} <= used
    assert not used & {"latest_nps", "unresolved_tickets", "failed_payments_90d"}
    subs = _query(root, "select change_type, count(*) n from raw.subscriptions group by 1")
    assert {"renewal", "reactivation"} <= set(subs["change_type"])


def test_a_two_percent_company_gets_a_worklist_with_reasons_in_its_words(
    social: tuple[Path, dg.ExecuteInProcessResult],
) -> None:
    root, _ = social
    scores = _query(root, "select risk_tier, reason_1, churn_probability from ml.churn_scores")
    assert scores["churn_probability"].max() < 0.6  # absolute tiers at 0.6 / 0.8 would leave them empty
    tiers = scores["risk_tier"].value_counts()
    assert tiers.get("critical", 0) > 0
    assert tiers.get("high", 0) > 0
    assert tiers.get("medium", 0) > 0
    reasons = " | ".join(scores["reason_1"].dropna())
    assert any(word in reasons for word in ("posts", "messages", "replies", "comments", "activity", "age"))
    assert "usage decline pct" not in reasons
    worklist = pd.read_parquet(root / "published" / "dashboard" / "worklist.parquet")
    assert len(worklist) > 0
    decisions = _query(root, "select count(*) n from retention.decisions")["n"].iloc[0]
    assert decisions > 0


def test_monitoring_runs_without_the_sources_it_does_not_have(
    social: tuple[Path, dg.ExecuteInProcessResult],
) -> None:
    root, _ = social
    runs = _query(root, "select report from monitoring.report_runs")
    assert {"feature_drift", "prediction_drift"} <= set(runs["report"])
    manifest = json.loads((root / "published" / "dashboard" / "manifest.json").read_text())
    assert manifest
    assert list((root / "reports").glob("feature_drift-*.html"))
