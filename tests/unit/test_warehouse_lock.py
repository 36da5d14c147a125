"""A second writer waits for the warehouse, saying who holds it, then gives up in one plain line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from churn_platform.lib.warehouse import WarehouseBusyError, connect, lock_holder


def test_a_held_warehouse_is_waited_for_then_refused_plainly(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        heard: list[str] = []
        now = [0.0]

        def sleep(seconds: float) -> None:
            now[0] += seconds

        with pytest.raises(WarehouseBusyError) as err:
            connect(path, wait_seconds=120, notify=heard.append, sleep=sleep, clock=lambda: now[0])
        message = str(err.value)
        assert f"(PID {holder.pid})" in message
        assert "another run writing to it; waited 120 s" in message
        assert "\n" not in message
        assert len(heard) == 2  # told at once and after a minute
        assert "held by python" in heard[0]
    finally:
        holder.kill()
        holder.wait()
    # once the holder is gone, the next attempt simply connects
    con = connect(path, wait_seconds=5)
    con.close()


def test_a_waiting_writer_gets_the_warehouse_when_the_holder_finishes(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); time.sleep(2)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "ready"
    con = connect(path, wait_seconds=60)  # waits for the holder to exit rather than failing
    assert con.execute("select 1").fetchone() == (1,)
    con.close()
    assert holder.wait() == 0


def test_other_io_errors_are_not_mistaken_for_a_lock() -> None:
    assert lock_holder("IO Error: Cannot open file: permission denied") is None
    assert lock_holder(
        'Could not set lock on file "x": Conflicting lock is held in /usr/bin/python3 (PID 7)'
    ) == ("python3 (PID 7)")
