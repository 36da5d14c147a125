"""Process environment the platform needs: telemetry off everywhere, Dagster home prepared."""

from __future__ import annotations

import os
from pathlib import Path

TELEMETRY_OFF = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "EVIDENTLY_DISABLE_TELEMETRY": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",  # dlt (the database connector)
}

DAGSTER_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    # DuckDB allows one writer process: runs that write the warehouse queue behind each other.
    max_concurrent_runs: 1
# The default launcher, able to say when a run's process has died (killed, out of memory) ...
run_launcher:
  module: churn_platform.lib.run_launcher
  class: LocalProcessRunLauncher
# ... so the daemon's run monitoring fails that run and the queue moves on.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
"""


def quiet_telemetry() -> None:
    """Nothing this platform runs phones home: a self-hosted product must not surprise its operators."""
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)


def prepare_dagster_home(path: Path) -> Path:
    """Create DAGSTER_HOME with telemetry off, one run at a time and run monitoring, and point this process
    at it. An instance file this platform wrote before run monitoring existed is brought up to date."""
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or (
        "run_monitoring" not in config.read_text() and "max_concurrent_runs: 1" in config.read_text()
    ):
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(path)
    return path
