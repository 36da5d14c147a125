"""Opening the DuckDB warehouse: one writer process at a time, and a plain answer when another holds it.

DuckDB lets one process open the file for writing; while it does, no other process can open it at all. A
second ``materialize`` (or a notebook) that finds the file locked waits, saying who holds it, and gives up
after ``wait_seconds`` with one line instead of a lock traceback.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

DEFAULT_WAIT_SECONDS = float(os.environ.get("CHURN_WAREHOUSE_LOCK_WAIT_SECONDS", "600"))
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseBusyError(RuntimeError):
    """Another process held the warehouse for longer than we were willing to wait."""


def lock_holder(message: str) -> str | None:
    """Who holds the lock, from DuckDB's message ("<program> (PID n)"), or None if it is not a lock error."""
    match = _HOLDER.search(message)
    if match:
        return f"{Path(match['program']).name} (PID {match['pid']})"
    return "another process" if "Could not set lock" in message else None


def connect(
    path: Path | str,
    read_only: bool = False,
    wait_seconds: float | None = None,
    notify: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting while another process holds it (``notify`` hears why, once a minute)."""
    wait = DEFAULT_WAIT_SECONDS if wait_seconds is None else wait_seconds
    started = clock()
    told = -60.0
    delay = 0.5
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            holder = lock_holder(str(exc))
            if holder is None:
                raise
            waited = clock() - started
            if waited >= wait:
                raise WarehouseBusyError(
                    f"the warehouse {path} is held by {holder}, another run writing to it; waited {waited:.0f} s. "
                    "Runs queue behind each other in Dagster; outside it, wait for that run to finish "
                    "(readers outside the pipeline should read data/published/)."
                ) from None
            if notify and waited - told >= 60:
                notify(f"waiting for the warehouse {path}: held by {holder} (waited {waited:.0f} s)")
                told = waited
            sleep(min(delay, max(wait - waited, 0.05)))
            delay = min(delay * 2, 5.0)
