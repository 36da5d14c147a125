"""Each dashboard page, run headless by Streamlit's AppTest against a published folder written by a fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from churn_platform.lib.dashboard_publish import publish_dashboard
from tests.dashboard.warehouse import build

DASHBOARD = Path(__file__).resolve().parents[2] / "churn_platform" / "dashboard"
PAGES = {
    name: DASHBOARD / "app_pages" / f"{name}.py"
    for name in ("worklist", "trends", "campaigns", "model_health")
}

HEALTH = {
    "model_name": "churn_model",
    "champion_version": "7",
    "model_family": "catboost",
    "registered_at": "2026-01-02T08:00:00+00:00",
    "metrics": {"roc_auc": 0.8257, "pr_auc": 0.347, "brier": 0.036, "ece": 0.0075, "lift_top_decile": 5.36},
    "validation_window": {"train_window": "2025-04-01..2025-10-01", "validation_snapshot": "2025-12-01"},
    "mlflow_run_url": "http://127.0.0.1:5000/#/experiments/1/runs/abc",
    "mlflow_model_url": "http://127.0.0.1:5000/#/models/churn_model/versions/7",
    "versions": [
        {"version": "7", "model_family": "catboost", "roc_auc": 0.83, "pr_auc": 0.35, "aliases": ["champion"],
         "promotion_decision": "promote"},
        {"version": "6", "model_family": "random_forest", "roc_auc": 0.82, "pr_auc": 0.31, "aliases": [],
         "promotion_decision": "n/a"},
    ],
    "reports": [
        {"report": "feature_drift", "run_at": "2026-01-09T10:00:00", "drift_share": 0.6, "drifted_columns": 12,
         "columns": 20, "dataset_drift": True, "html_path": "/reports/r2/feature.html", "evidently_url": None},
        {"report": "model_performance", "run_at": "2026-01-09T10:00:00", "roc_auc": 0.81,
         "html_path": "/reports/r2/perf.html", "evidently_url": "http://127.0.0.1:8000/projects/p"},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("full")
    report = root / "feature.html"
    report.write_text("<html><body><h1>Feature drift</h1></body></html>")
    first = {**HEALTH["reports"][0], "html_path": str(report)}  # type: ignore[index]
    health = {**HEALTH, "reports": [first, *HEALTH["reports"][1:]]}  # type: ignore[index]
    publish_dashboard(build(root / "wh.duckdb"), root / "published", health)
    return root / "published"


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Before the first campaign and the first monitoring report."""
    root = tmp_path_factory.mktemp("partial")
    warehouse = build(root / "wh.duckdb", retention=False, monitoring=False)
    publish_dashboard(warehouse, root / "published", {**HEALTH, "reports": []})
    return root / "published"


def run(page: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CHURN_DASHBOARD_DIR", str(folder))
    at = AppTest.from_file(str(PAGES.get(page, DASHBOARD / f"{page}.py")), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_worklist(full: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run("worklist", full, monkeypatch)
    shown = metrics(at)
    assert shown["Customers at high+ risk"] == "2"
    assert shown["MRR at high+ risk"] == "1,000"
    assert shown["Worth saving at high+ risk"] == "2"
    # opens on the tiers above low: C1 and C2 are worth saving, C3 is not
    assert [list(df.value["customer_id"]) for df in at.dataframe] == [["C1", "C2"], ["C3"]]
    assert [t.label for t in at.tabs] == ["Worth saving (2)", "Not worth saving (1)"]
    assert list(at.dataframe[0].value["contact_status"]) == ["sent", "failed"]
    assert len(at.get("download_button")) == 1
    assert len(at.get("plotly_chart")) == 1

    at.text_input[0].input("c2").run()
    assert [list(df.value["customer_id"]) for df in at.dataframe] == [["C2"]]
    at.text_input[0].input("").run()
    at.multiselect[0].select("low").run()  # the tier filter
    assert len(at.dataframe[1].value) == 2  # C3 and C4


def test_trends(full: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run("trends", full, monkeypatch)
    assert len(at.get("plotly_chart")) == 2
    assert [h.value for h in at.subheader] == ["Churn rate", "Risk tier mix"]
    at.radio[0].set_value("segment").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    table = at.dataframe[0].value
    assert list(table.index) == ["enterprise", "smb"]
    assert list(table.columns) == ["critical", "high", "medium", "low"]


def test_campaigns(full: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run("campaigns", full, monkeypatch)
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    for playbook in ("old-playbook", "rescue", "win-back"):  # every playbook, every wave pooled
        assert f"**{playbook}**" in text
    cards = [(m.label, m.value) for m in at.metric]
    # ROI and the weeks needed are sentences written out in full (a metric card would cut them)
    shown = text + " " + " ".join(c.value for c in at.caption)
    # a negative ROI whose interval spans zero is never shown as a number
    assert "ROI  \n**not yet measurable**" in text
    assert "-2064" not in shown
    assert not any("-2064" in value for _, value in cards)
    assert "ROI  \n**+73% (+10% to +140%)**" in text  # the playbook that works
    assert ("MDE", "36.0 pts") in cards
    assert ("MDE", "3.0 pts") in cards
    assert "95% interval: " in shown
    for weeks in ("about 12 more weeks", "not at the current intake", "measurable now"):
        assert f"Until the interval can exclude zero  \n**{weeks}**" in text
    summary = at.dataframe[0].value
    assert list(summary.columns[:6]) == [
        "playbook",
        "arm",
        "waves",
        "treated",
        "control",
        "save rate (CUPED)",
    ]
    assert "save rate (raw)" in summary.columns
    assert [h.value for h in at.subheader] == [
        "Playbooks, every measured wave pooled",
        "Allocation policies compared offline",
        "Allocation between interventions, wave by wave",
        "Churn among high-risk customers: treated vs control",
        "NPS of treated vs control",
        "Message response rates",
        "Latest measured campaign: snapshot 2025-12-01",
        "All measured breakdowns",
        "Current decisions",
    ]
    # raw and CUPED per arm; allocation; high-risk churn; NPS; per-campaign save rates
    assert len(at.get("plotly_chart")) == 5
    offline = at.dataframe[1].value
    assert list(offline["policy"]) == ["always success_call", "as logged", "never contact"]
    rates = at.dataframe[2].value
    assert rates.iloc[0]["open_rate"] == "100.0%"
    shown = metrics(at)
    assert shown["Treated"] == "80"
    assert shown["Save rate vs control"] == "+9.0 pts"
    assert at.dataframe[-1].value["customers"].sum() == 3  # current decisions of C1, C2, C3


def test_model_health(full: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run("model_health", full, monkeypatch)
    shown = metrics(at)
    assert shown["Model"] == "churn_model v7"
    assert shown["Family"] == "catboost"
    assert shown["ROC-AUC"] == "0.826"
    assert shown["ROC-AUC on recent data"] == "0.810"
    assert shown["Drift share"] == "60%"
    assert shown["Drifted columns"] == "12 of 20"
    urls = [b.proto.url for b in at.get("link_button")]
    assert HEALTH["mlflow_run_url"] in urls
    assert HEALTH["mlflow_model_url"] in urls
    assert "http://127.0.0.1:8000/projects/p" in urls
    assert any("file:///reports/r2/perf.html" in m.value for m in at.markdown)
    assert len(at.toggle) == 1  # only a report whose file exists can be shown inline
    at.toggle[0].set_value(True).run()
    assert not at.exception
    assert len(at.get("iframe")) == 1
    assert len(at.get("plotly_chart")) == 1  # drift share over report runs
    assert list(at.dataframe[0].value["version"]) == ["7", "6"]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_missing_files_explain_how_to_publish(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run(page, tmp_path / "nothing-published", monkeypatch)
    assert at.info
    assert any("scripts/run.sh" in i.value for i in at.info)


def test_partial_data_before_the_first_campaign(partial: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    campaigns = run("campaigns", partial, monkeypatch)
    assert any("retention.outcomes does not exist yet" in i.value for i in campaigns.info)
    assert any("No retention decision" in i.value for i in campaigns.info)
    health = run("model_health", partial, monkeypatch)
    assert any("monitoring.report_runs does not exist yet" in i.value for i in health.info)
    assert metrics(health)["Model"] == "churn_model v7"
    worklist = run("worklist", partial, monkeypatch)
    assert set(worklist.dataframe[0].value["contact_status"]) == {"not contacted"}


def test_app_opens_on_the_worklist(full: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run("app", full, monkeypatch)
    assert at.title[0].value == "High-risk worklist"
