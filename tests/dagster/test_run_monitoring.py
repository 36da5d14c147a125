"""A run whose process is killed with ``kill -9`` is detected by the daemon's run monitoring and failed, and
the queue (one run at a time) moves on: a real Dagster instance with the platform's instance config, a
real ``dagster-daemon``, runs submitted through the queue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from churn_platform.lib.environment import DAGSTER_YAML
from churn_platform.lib.run_launcher import process_alive
from churn_platform.settings import PROJECT_ROOT

DEFS = PROJECT_ROOT / "tests" / "dagster" / "sleepy_defs.py"
BIN = Path(sys.executable).parent


def _launch(home: Path, config: dict[str, object]) -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-f", str(DEFS), "-j", "sleepy", "--config-json",
         json.dumps({"ops": {"nap": {"config": config}}})],
        env={**os.environ, "DAGSTER_HOME": str(home)}, cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"dagster job launch failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _wait(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_run_is_failed_and_the_queue_moves(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    assert "LocalProcessRunLauncher" in DAGSTER_YAML
    assert "run_monitoring:" in DAGSTER_YAML
    (home / "dagster.yaml").write_text(
        DAGSTER_YAML.replace("poll_interval_seconds: 30", "poll_interval_seconds: 1")
    )
    pid_file = tmp_path / "worker.pid"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    # create the instance's storage once, before two processes (the daemon, the launch) race to create and
    # migrate the same SQLite files (alembic then fails with "Can't locate revision")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs()
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-f", str(DEFS)], env=env, cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _launch(home, {"seconds": 600, "pid_file": str(pid_file)})
        _launch(home, {"seconds": 0.1})
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert len(instance.get_runs()) == 2
            _wait(pid_file.exists, 120, "the first run's worker to start")
            worker = int(pid_file.read_text())
            long_run = next(r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.STARTED)
            short_run = next(r for r in instance.get_runs() if r.run_id != long_run.run_id)
            assert short_run.status == dg.DagsterRunStatus.QUEUED, "one run at a time: the second waits"
            os.kill(worker, signal.SIGKILL)
            _wait(lambda: not process_alive(worker), 10, "the worker to die")

            def status(run_id: str) -> dg.DagsterRunStatus:
                found = instance.get_run_by_id(run_id)
                assert found is not None
                return found.status

            _wait(
                lambda: status(long_run.run_id) == dg.DagsterRunStatus.FAILURE,
                90,
                "the dead run to be failed",
            )
            _wait(
                lambda: status(short_run.run_id) == dg.DagsterRunStatus.SUCCESS, 120, "the queued run to run"
            )
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
