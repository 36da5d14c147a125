"""Running a benchmark step in a fresh process, so its time and peak memory are its own.

Shared by the benchmark scripts (``from steps import run_step``); not a benchmark itself.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import time
from collections.abc import Callable
from typing import Any

QUIET = {
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


def peak_mib() -> float:
    """Peak resident memory of this process and any children it waited for (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _child(fn: Callable[..., dict[str, Any]], args: tuple[Any, ...], queue: mp.Queue) -> None:
    os.environ.update(QUIET)
    started = time.perf_counter()
    try:
        out = fn(*args)
    except BaseException as exc:  # report any failure to the parent instead of hanging it
        queue.put({"error": f"{type(exc).__name__}: {exc}"})
        return
    out.update(seconds=time.perf_counter() - started, peak_mib=peak_mib())
    queue.put(out)


def run_step(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn(*args)`` in a fresh (spawned) process; its result plus ``seconds`` and ``peak_mib``."""
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    if "error" in result:
        raise RuntimeError(f"{fn.__name__} failed: {result['error']}")
    return result
