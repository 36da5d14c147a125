"""A code location for the run monitoring test: a job whose only op logs its process id and sleeps."""

import os
import time
from pathlib import Path

import dagster as dg


class Nap(dg.Config):
    seconds: float = 0.1
    pid_file: str = ""


@dg.op
def nap(config: Nap) -> None:
    if config.pid_file:
        Path(config.pid_file).write_text(str(os.getpid()))
    time.sleep(config.seconds)


@dg.job(executor_def=dg.in_process_executor)
def sleepy() -> None:
    nap()


defs = dg.Definitions(jobs=[sleepy])
