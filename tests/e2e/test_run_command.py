"""The README's run command, on the demo's own company, end to end: simulate, two periods with a simulated outage in
the second (drift flagged, retraining launched by the sensor, decided by the gate), then every view answers and
real headless Chromium takes a screenshot of each dashboard page, the Dagster lineage and the Evidently UI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from churn_platform.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SCREENSHOTS = os.environ.get("CHURN_SCREENSHOT_DIR")


def _not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 40, f"{png.name} looks blank ({len(colours)} colours)"


@pytest.mark.slow
def test_run_command_ends_with_every_view_answering(tmp_path: Path) -> None:
    port, mlflow_port, evidently_port, dashboard_port = (_free_port() for _ in range(4))
    env = {
        **os.environ,
        "CHURN_DATA_DIR": str(tmp_path / "data"),
        # the demo's own company (10,000 customers, 12 months): its campaign page is the one the README shows,
        # and only at that size do three playbooks gather enough controls for an interval
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                "bash",
                str(PROJECT_ROOT / "scripts" / "run.sh"),
                "--port",
                str(port),
                "--mlflow-port",
                str(mlflow_port),
                "--evidently-port",
                str(evidently_port),
                "--dashboard-port",
                str(dashboard_port),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # the addresses are printed once every view answers
        deadline = time.monotonic() + 900
        while (
            time.monotonic() < deadline and proc.poll() is None and "Risk dashboard:" not in log.read_text()
        ):
            time.sleep(1)
        text = log.read_text()
        assert "Risk dashboard:" in text, f"the views never came up; output:\n{text[-4000:]}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as resp:
            assert resp.status == 200
        assert f"Dagster UI: http://127.0.0.1:{port}" in text
        assert "not answering" not in text, text[-3000:]
        for asset in (
            "landing_files",
            "raw/usage_events",
            "fct_customer_features",
            "churn_scores",
            "customer_value",
        ):
            assert asset in text, asset
        assert "failed:" not in text, "no step failed"
        assert (tmp_path / "data" / "landing" / "accounts").is_dir()
        # the MLflow UI serves the registered model with its champion alias
        url = f"http://127.0.0.1:{mlflow_port}/api/2.0/mlflow/registered-models/get?name=churn_model"
        for _ in range(60):
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    model = json.loads(resp.read())["registered_model"]
                    break
            except OSError:
                time.sleep(1)
        else:
            raise AssertionError("the MLflow UI never answered")
        aliases = {a["alias"]: a["version"] for a in model.get("aliases", [])}
        assert "champion" in aliases
        assert (tmp_path / "data" / "ground_truth" / "summary.json").is_file()
        # the shifted month: drift flagged, retraining launched by the sensor and decided by the gate
        assert "drift_retraining_sensor launches a run" in text, text[-6000:]
        assert "Retraining launched by the drift sensor" in text
        alerts = sorted((tmp_path / "data" / "outbox").glob("alert_drift_*churn-owners*.eml"))
        assert alerts, "the drift alert reached the owning team through the campaign outbox"
        assert "drift" in alerts[0].read_text().lower()
        health = json.loads((tmp_path / "data" / "published" / "dashboard" / "model_health.json").read_text())
        assert str(health["champion_version"]) == str(aliases["champion"])
        _screenshots(
            tmp_path,
            text,
            port=port,
            evidently_port=evidently_port,
            dashboard_port=dashboard_port,
            champion=str(aliases["champion"]),
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _screenshots(
    tmp_path: Path, text: str, port: int, evidently_port: int, dashboard_port: int, champion: str
) -> None:
    """Every view in real headless Chromium: each must show its content; a PNG of each is kept."""
    from tests.e2e.browser import capture, chromium

    for name, view_port in (("Evidently UI", evidently_port), ("Risk dashboard", dashboard_port)):
        assert f"http://127.0.0.1:{view_port}" in text, f"{name} address not printed"
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path / "screenshots"
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    evidently = f"http://127.0.0.1:{evidently_port}"
    with urllib.request.urlopen(f"{evidently}/api/projects", timeout=10) as resp:
        projects = json.loads(resp.read())
    assert [p["name"] for p in projects] == ["Churn Platform"]
    project = projects[0]["id"]
    health = json.loads((tmp_path / "data" / "published" / "dashboard" / "model_health.json").read_text())
    drift_url = next(r["evidently_url"] for r in health["reports"] if r["report"] == "feature_drift")
    # the first campaign is measured per playbook (three or more), with an interval and an MDE each, and the
    # second campaign's allocation between interventions moved from the first's
    import pandas as pd

    published = tmp_path / "data" / "published" / "dashboard"
    effects = pd.read_parquet(published / "playbook_effects.parquet")
    playbooks = effects[effects["arm"] == "all"]
    measured = playbooks.dropna(subset=["save_rate_adjusted_low", "save_rate_adjusted_high", "mde"])
    assert len(measured) >= 3, playbooks
    allocation = pd.read_parquet(published / "allocation.parquet")
    assert allocation["snapshot_date"].nunique() == 2, "two campaigns, allocation per wave"
    assert drift_url.startswith(f"{evidently}/projects/{project}/reports/")
    pages = [
        ("dashboard-worklist", f"{dashboard}/", ["High-risk worklist", "Download"]),
        ("dashboard-trends", f"{dashboard}/trends", ["Trends", "Churn rate"]),
        (
            "dashboard-campaigns",
            f"{dashboard}/campaigns",
            [
                "Campaign effectiveness",
                "Playbooks, every measured wave pooled",
                "MDE",
                "Allocation between interventions",
                *measured["playbook"].head(3),
            ],
        ),
        ("dashboard-model-health", f"{dashboard}/model_health", ["Model health", f"{champion}"]),
        (
            "dagster-lineage",
            f"http://127.0.0.1:{port}/asset-groups",
            ["Global asset lineage", "monitoring", "retention"],
        ),
        (
            "dagster-monitoring",
            f"http://127.0.0.1:{port}/locations/__repository__@churn_platform.definitions/asset-groups/monitoring",
            ["monitoring_alerts", "feature_drift_report", "Materialized"],
        ),
        (
            "evidently-project",
            f"{evidently}/projects/{project}",
            ["Churn Platform", "Share of drifted features"],
        ),
        # the drift report of the shifted month, by the link the dashboard and Dagster give
        ("evidently-drift-report", drift_url, ["Dataset Drift is detected"]),
    ]
    with chromium() as driver:
        size = driver.get_window_size()
        for name, url, expect in pages:
            tall = 4200 if name == "dashboard-campaigns" else None  # the whole page: every playbook and chart
            shown = capture(driver, url, folder / f"{name}.png", expect, timeout=120, full_height=tall)
            driver.set_window_size(size["width"], size["height"])
            assert "Traceback" not in shown, f"{name}: {shown[:2000]}"
            _not_blank(folder / f"{name}.png")
