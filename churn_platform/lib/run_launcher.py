"""Dagster's default run launcher, able to tell the daemon's run monitoring that a run's process is gone.

The embedded deployment launches each run as a local process of the code server. Dagster's run monitoring
fails runs whose worker died, but only for launchers that can check a worker's health, and the default one
cannot: a run killed with ``kill -9`` stays STARTED forever and, with one run at a time, every queued run
waits behind it. This launcher reads the run worker's pid from the run's own event log ("Started process
for run (pid: N)") and reports the worker FAILED once that process no longer runs on this machine (gone, or
a zombie nobody reaped). The instance config (``churn_platform.lib.environment.DAGSTER_YAML``) selects it
and switches run monitoring on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus


def process_alive(pid: int) -> bool:
    """True while ``pid`` is a live process here (a zombie is dead: it only waits to be reaped)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        try:
            state = next((line for line in status.read_text().splitlines() if line.startswith("State:")), "")
        except OSError:
            return False
        return "Z" not in state.split(":", 1)[-1].split()[:1]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalProcessRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` plus a worker health check for run monitoring (same-host processes)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def run_worker_pid(self, run: DagsterRun) -> int | None:
        """The pid the run's worker logged when it started, if it did."""
        found = self._instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50
        ).records
        for record in found:
            event = record.event_log_entry.dagster_event
            data: Any = event.engine_event_data if event else None
            pid = (data.metadata or {}).get("pid") if data is not None else None
            if pid is not None:
                return int(str(getattr(pid, "value", pid)))
        return None

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self.run_worker_pid(run)
        if pid is None:  # not logged yet: starting runs are covered by the start timeout
            return CheckRunHealthResult(WorkerStatus.RUNNING, "the run worker has not logged its pid yet")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is running")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker pid {pid} is gone (killed or crashed)")


__all__ = ["LocalProcessRunLauncher", "process_alive"]
