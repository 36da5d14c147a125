"""The dashboard's numbers on hand-made frames whose answers are known."""

from __future__ import annotations

import pandas as pd
import pytest

from churn_platform.dashboard import views


def worklist() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "company_name": ["Acme", "Beta Foods", "Gamma", None, "Delta"],
            "segment": ["smb", "smb", "enterprise", "mid_market", "smb"],
            "plan": ["pro", "basic", "pro", "pro", "basic"],
            "mrr": [100.0, 50.0, 1000.0, 200.0, 10.0],
            "churn_probability": [0.9, 0.65, 0.7, 0.4, 0.1],
            "risk_tier": ["critical", "high", "high", "medium", "low"],
            "valuable": [True, False, True, True, None],
            "decision": ["treat", "skip", None, "control", None],
            "decision_reason": ["targeted by the playbook", "no consent", None, "held out as control", None],
            "playbook": ["p", "p", None, "p", None],
            "contact_status": ["sent", "not contacted", "not contacted", "not contacted", "not contacted"],
        }
    )


def ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["customer_id"])


def test_no_filter_keeps_everyone_riskiest_first() -> None:
    assert ids(views.filter_worklist(worklist(), views.WorklistFilter())) == ["C1", "C3", "C2", "C4", "C5"]


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (views.WorklistFilter(tiers=("high",)), ["C3", "C2"]),
        (views.WorklistFilter(segments=("smb",), plans=("basic",)), ["C2", "C5"]),
        (views.WorklistFilter(valuable=True), ["C1", "C3", "C4"]),
        (views.WorklistFilter(valuable=False), ["C2", "C5"]),  # unknown value counts as not worth saving
        (views.WorklistFilter(contact_statuses=("sent",)), ["C1"]),
        (views.WorklistFilter(min_probability=0.65), ["C1", "C3", "C2"]),
        (views.WorklistFilter(search="c4"), ["C4"]),
        (views.WorklistFilter(search="FOODS"), ["C2"]),
        (views.WorklistFilter(tiers=("critical", "high"), valuable=True, segments=("smb",)), ["C1"]),
    ],
)
def test_each_filter(chosen: views.WorklistFilter, expected: list[str]) -> None:
    assert ids(views.filter_worklist(worklist(), chosen)) == expected


def test_kpis_count_high_and_critical_only() -> None:
    kpis = views.worklist_kpis(worklist())
    assert kpis["customers"] == 5
    assert kpis["at_risk"] == 3  # C1 critical, C2 and C3 high
    assert kpis["mrr_at_risk"] == pytest.approx(1150.0)
    assert kpis["valuable_at_risk"] == 2  # C1, C3
    assert kpis["expected_mrr_loss"] == pytest.approx(90 + 32.5 + 700 + 80 + 1)


def test_split_and_tiers_and_csv() -> None:
    valuable, other = views.split_valuable(worklist())
    assert ids(valuable) == ["C1", "C3", "C4"]
    assert ids(other) == ["C2", "C5"]
    tiers = pd.Series(["low", "high", "custom", "critical", "high"])
    assert views.ordered_tiers(tiers) == ["critical", "high", "low", "custom"]
    assert views.default_tiers(tiers) == ["critical", "high", "custom"]
    csv = views.to_csv(worklist().head(2)).decode().splitlines()
    assert csv[0].startswith("customer_id,company_name,segment,plan,mrr,churn_probability,risk_tier")
    assert len(csv) == 3


def trend() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "snapshot_date": ["2025-01-01"] * 3 + ["2025-02-01"] * 3 + ["2025-03-01"],
            "segment": ["smb", "smb", "enterprise"] * 2 + ["smb"],
            "plan": ["basic", "pro", "pro"] * 2 + ["pro"],
            "customers": [100, 100, 50, 100, 110, 50, 90],  # 10 without a label yet
            "labelled": [100, 100, 50, 100, 100, 50, 0],
            "churned": [10, 2, 0, 20, 4, 1, 0],
        }
    )


def test_churn_rate_is_pooled_and_skips_immature_snapshots() -> None:
    rates = views.churn_rate_series(trend())
    assert list(rates["snapshot_date"].dt.strftime("%Y-%m")) == ["2025-01", "2025-02"]
    assert list(rates["churn_rate"]) == pytest.approx([12 / 250, 25 / 250])
    by_segment = views.churn_rate_series(trend(), "segment")
    jan = by_segment[by_segment["snapshot_date"] == "2025-01-01"].set_index("group")["churn_rate"]
    assert jan.to_dict() == pytest.approx({"enterprise": 0.0, "smb": 12 / 200})
    pro = views.churn_rate_series(trend(), "plan", segments=("smb",), plans=("pro",))
    assert list(pro["churn_rate"]) == pytest.approx([0.02, 0.04])


def test_tier_mix_uses_the_latest_scoring_of_each_snapshot() -> None:
    mix = pd.DataFrame(
        {
            "scored_at": pd.to_datetime(
                ["2025-01-02", "2025-01-02", "2025-01-05", "2025-01-05", "2025-02-02"]
            ),
            "snapshot_date": ["2025-01-01", "2025-01-01", "2025-01-01", "2025-01-01", "2025-02-01"],
            "segment": ["smb"] * 5,
            "plan": ["pro"] * 5,
            "risk_tier": ["low", "high", "low", "high", "low"],
            "customers": [50, 50, 90, 10, 30],
        }
    )
    out = views.tier_mix_series(mix)
    jan = out[out["snapshot_date"] == "2025-01-01"].set_index("risk_tier")
    assert jan["customers"].to_dict() == {"high": 10, "low": 90}
    assert jan["share"].to_dict() == pytest.approx({"high": 0.1, "low": 0.9})
    assert list(out["risk_tier"]) == ["high", "low", "low"]  # most severe first within a snapshot


def outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-01", "2026-02-01"]),
            "dimension": ["overall", "playbook", "playbook", "playbook"],
            "segment": ["all", "a", "b", "a"],
            "treated": [100.0, 60.0, 40.0, 50.0],
            "control": [20.0, 12.0, 8.0, 10.0],
            "save_rate": [0.1, 0.2, -0.05, 0.1],
            "save_rate_low": [-0.05, 0.0, -0.3, -0.1],
            "save_rate_high": [0.25, 0.35, 0.2, 0.3],
            "customers_saved": [10.0, 12.0, -2.0, 5.0],
            "revenue_retained": [5000.0, 3000.0, -500.0, 2000.0],
            "cost": [1000.0, 600.0, 400.0, 0.0],
        }
    )


def test_campaign_effects_give_plotly_error_distances() -> None:
    effects = views.campaign_effects(outcomes(), "playbook")
    assert list(effects["label"]) == ["2026-01-01 · a", "2026-01-01 · b", "2026-02-01 · a"]
    assert list(effects["error_plus"]) == pytest.approx([0.15, 0.25, 0.2])
    assert list(effects["error_minus"]) == pytest.approx([0.2, 0.25, 0.2])
    assert list(views.campaign_effects(outcomes(), "overall")["label"]) == ["2026-01-01"]


def effects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "playbook": ["a", "a", "a", "b"],
            "arm": ["all", "training", "discount", "all"],
            "waves": [2, 2, 2, 1],
            "treated": [300, 200, 100, 107],
            "control": [500, 500, 500, 12],
            "save_rate": [0.05, 0.06, 0.03, -0.07],
            "save_rate_low": [0.02, 0.02, -0.02, -0.31],
            "save_rate_high": [0.08, 0.10, 0.08, 0.20],
            "save_rate_adjusted": [0.048, 0.058, 0.031, -0.069],
            "save_rate_adjusted_low": [0.021, 0.02, -0.019, -0.31],
            "save_rate_adjusted_high": [0.075, 0.096, 0.081, 0.2],
            "mde": [0.04, 0.05, 0.06, 0.36],
            "power": [0.6, 0.5, 0.4, 0.05],
            "roi": [1.5, 2.0, -0.2, -20.64],
            "roi_low": [0.1, 0.2, -1.5, -60.0],
            "roi_high": [3.0, 4.0, 1.0, 20.0],
            "verdict": ["works", "works", "not yet measurable", "not yet measurable"],
            "weeks_to_detect": [0.0, 0.0, 7.3, float("inf")],
            "minimum_effect": [0.03] * 4,
        }
    )


def test_a_negative_roi_whose_interval_spans_zero_is_not_yet_measurable() -> None:
    rows = effects().to_dict("records")
    assert views.roi_text(rows[3]) == "not yet measurable"  # not "ROI -2064%"
    assert views.roi_text(rows[2]) == "not yet measurable"
    assert views.roi_text(rows[0]) == "+150% (+10% to +300%)"
    assert views.effect_text(rows[3]) == "-6.9 pts (-31.0 to +20.0)"
    assert views.effect_text(rows[3], "save_rate") == "-7.0 pts (-31.0 to +20.0)"
    assert views.effect_text({"save_rate_adjusted": float("nan")}) == "n/a"
    assert views.weeks_text(311.0) == "about 311 more weeks (6 years)"
    assert [views.weeks_text(w) for w in (0.0, 7.3, float("inf"))] == [
        "measurable now", "about 8 more weeks", "not at the current intake",
    ]  # fmt: skip


def test_playbook_summary_and_the_raw_and_adjusted_estimates() -> None:
    summary = views.playbook_summary(effects())
    assert list(summary["playbook"]) == ["a", "b"]
    assert list(summary["ROI"]) == ["+150% (+10% to +300%)", "not yet measurable"]
    assert list(summary["MDE"]) == ["4.0 pts", "36.0 pts"]
    arms = views.playbook_summary(effects(), arm=None)
    assert list(arms["arm"]) == ["discount", "training"]
    long = views.effects_long(effects()[effects()["arm"] != "all"])
    assert len(long) == 4
    assert set(long["estimate"]) == {"raw", "CUPED-adjusted"}
    training = long[(long["arm"] == "training") & (long["estimate"] == "CUPED-adjusted")].iloc[0]
    assert training["error_plus"] == pytest.approx(0.038)
    assert training["error_minus"] == pytest.approx(0.038)


def test_response_rates_say_when_the_provider_reports_nothing() -> None:
    rates = pd.DataFrame(
        {
            "channel": ["email", "email", "team_task"],
            "snapshot_date": ["2026-01-01", "2026-02-01", "2026-01-01"],
            "sent": [100, 50, 10],
            "reported": [80, 20, 0],
            "delivered_rate": [0.9, 0.4, None],
            "open_rate": [0.5, 0.25, None],
            "click_rate": [0.1, 0.1, None],
            "bounce_rate": [0.02, 0.0, None],
            "answer_rate": [0.0, 0.0, None],
        }
    )
    out = views.response_rates(rates).set_index("channel")
    assert out.loc["email", "sent"] == 150
    assert out.loc["email", "open_rate"] == "45.0%"  # (0.5 x 80 + 0.25 x 20) / 100
    assert out.loc["team_task", "open_rate"] == "not reported by the provider"


def test_decision_summary_counts_latest_decisions() -> None:
    summary = views.decision_summary(worklist())
    assert summary["customers"].sum() == 3
    assert set(summary["decision"]) == {"treat", "skip", "control"}
    assert views.decision_summary(worklist().assign(decision=None)).empty


def test_model_health_helpers() -> None:
    health = {
        "champion_version": "3",
        "metrics": {"roc_auc": 0.8257, "brier": 0.0359, "rows": 6676.0, "ece": None},
        "versions": [
            {"version": "3", "model_family": "catboost", "roc_auc": 0.83, "pr_auc": 0.3, "aliases": ["champion"],
             "promotion_decision": "promote"},
            {"version": "2", "model_family": "rf", "roc_auc": 0.82, "pr_auc": 0.3, "aliases": [],
             "promotion_decision": "n/a"},
        ],
    }  # fmt: skip
    assert views.metric_cards(health["metrics"]) == [  # type: ignore[arg-type]
        ("ROC-AUC", "0.826", views.METRIC_LABELS["roc_auc"][1]),
        ("Brier", "0.036", views.METRIC_LABELS["brier"][1]),
    ]
    versions = views.versions_frame(health)
    assert list(versions["champion"]) == [True, False]
    assert list(versions["aliases"]) == ["champion", ""]
    assert views.versions_frame({"versions": []}).empty
    links = views.report_links({"html_path": "/tmp/r/drift report.html", "evidently_url": "http://e:8000/p"})
    assert links == {"file": "file:///tmp/r/drift%20report.html", "evidently": "http://e:8000/p"}
    assert views.report_links({"html_path": "relative.html", "evidently_url": None}) == {}


def test_report_numbers_show_what_each_report_measured() -> None:
    drift = {
        "drift_share": 0.25,
        "drifted_columns": 5,
        "columns": 20,
        "dataset_drift": False,
        "roc_auc": None,
    }
    assert views.report_numbers(drift) == [
        ("Drift share", "25%"),
        ("Drifted columns", "5 of 20"),
        ("Dataset drift", "no"),
    ]
    performance = {"drift_share": None, "drifted_columns": None, "roc_auc": 0.8123}
    assert views.report_numbers(performance) == [("ROC-AUC on recent data", "0.812")]
    performance["reference_roc_auc"] = 0.8291
    assert views.report_numbers(performance)[-1] == ("ROC-AUC at validation", "0.829")
    prediction = {
        "report": "prediction_drift",
        "drift_share": 1.185,
        "drifted_columns": 1,
        "dataset_drift": True,
    }
    assert views.report_numbers(prediction) == [
        ("Distance (Wasserstein, normed)", "1.185"),
        ("Predictions drifted", "yes"),
    ]


def test_reports_in_reading_order() -> None:
    kinds = ["model_performance", "custom", "feature_drift", "prediction_drift"]
    ordered = views.order_reports([{"report": k} for k in kinds])
    assert [r["report"] for r in ordered] == [
        "feature_drift",
        "prediction_drift",
        "model_performance",
        "custom",
    ]


def test_drift_trend_orders_runs_and_drops_reports_without_drift() -> None:
    monitoring = pd.DataFrame(
        {
            "report": ["feature_drift", "model_performance", "feature_drift", "prediction_drift"],
            "run_at": ["2026-02-01 10:00", "2026-02-01 10:00", "2026-01-01 10:00", "2026-02-01 10:00"],
            "drift_share": [0.3, None, 0.1, 1.2],
        }
    )
    trend_ = views.drift_trend(monitoring)
    assert list(trend_["drift_share"]) == [0.1, 0.3]


def test_latest_decision_says_whether_the_gate_promoted() -> None:
    first = {
        "version": "3",
        "model_family": "catboost",
        "roc_auc": 0.83,
        "candidate_of_round": "best",
        "promotion_decision": "promote",
        "validation_snapshot": "2025-12-01",
        "registered_at": "2026-01-02",
    }
    other = {"version": "2", "model_family": "rf", "roc_auc": 0.82, "candidate_of_round": "other"}
    kept = {
        "version": "6",
        "model_family": "random_forest",
        "roc_auc": 0.8301,
        "candidate_of_round": "best",
        "promotion_decision": "keep",
        "validation_snapshot": "2026-01-01",
        "registered_at": "2026-02-02",
    }
    assert views.latest_decision({"versions": [other]}) is None
    promoted = views.latest_decision({"champion_version": "3", "versions": [first, other]})
    assert promoted is not None
    assert (
        "v3 (catboost, ROC-AUC 0.8300, judged on 2025-12-01) beat the champion and was promoted" in promoted
    )
    stayed = views.latest_decision({"champion_version": "3", "versions": [kept, first, other]})
    assert stayed is not None
    assert "v6 (random_forest" in stayed
    assert "v3 stays champion" in stayed


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_the_csv_export_neutralises_formulas(name: str) -> None:
    import csv
    import io

    frame = worklist().head(2).copy()
    frame.loc[frame.index[0], "company_name"] = name
    rows = list(csv.DictReader(io.StringIO(views.to_csv(frame).decode())))
    assert rows[0]["company_name"] == "'" + name, "a spreadsheet reads it as text"
    assert rows[1]["company_name"] == frame["company_name"].iloc[1], "ordinary names are unchanged"
    assert float(rows[0]["mrr"]) == pytest.approx(float(frame["mrr"].iloc[0])), "numbers stay numbers"


def test_negative_numbers_are_not_mangled() -> None:
    frame = worklist().head(1).copy()
    frame["mrr"] = -5.0
    assert "'-5" not in views.to_csv(frame).decode()


def test_day_labels_make_one_snapshot_a_category_not_a_time_axis() -> None:
    dates = pd.Series(pd.to_datetime(["2026-01-01 00:00:00", "2025-12-01 13:45:00"]))
    assert views.day_labels(dates).tolist() == ["2026-01-01", "2025-12-01"]
    shares = views.allocation_shares(
        pd.DataFrame({"snapshot_date": dates, "playbook": ["p", "p"], "arm": ["a", "b"], "share": [0.5, 0.5]})
    )
    assert shares["wave"].tolist() == ["2025-12-01", "2026-01-01"]
