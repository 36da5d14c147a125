"""The README's run command, on a tiny company: simulate, materialize, and the Dagster UI answers."""

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


@pytest.mark.slow
def test_run_command_ends_with_the_dagster_ui_answering(tmp_path: Path) -> None:
    port, mlflow_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "CHURN_DATA_DIR": str(tmp_path / "data"),
        "CHURN_DEMO_CUSTOMERS": "600",
        "CHURN_DEMO_MONTHS": "7",
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
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 600
        answered = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as resp:
                    answered = resp.status == 200
                    break
            except OSError:
                time.sleep(1)
        text = log.read_text()
        assert answered, f"the Dagster UI never answered; output:\n{text[-4000:]}"
        assert f"http://127.0.0.1:{port}" in text
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
        assert "champion" in {a["alias"] for a in model.get("aliases", [])}
        assert (tmp_path / "data" / "ground_truth" / "summary.json").is_file()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
