"""The four views as local processes: Dagster, MLflow, the Evidently UI and the risk dashboard.

Each binds to localhost by default. The launcher waits until each answers before printing its address, so
the address a user is given is one that works.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from churn_platform.settings import PROJECT_ROOT


@dataclass
class Service:
    """One UI: how to start it, where it answers, what to tell the user it is for."""

    name: str
    command: list[str]
    url: str
    health_path: str
    purpose: str
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / f"{self.name.lower().replace(' ', '_')}.log").open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + self.health_path, timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_until_up(services: list[Service], timeout: float = 180.0) -> dict[str, bool]:
    """Poll every service until it answers (or its process died, or time is up)."""
    deadline = time.monotonic() + timeout
    status = {s.name: False for s in services}
    while time.monotonic() < deadline and not all(status.values()):
        for s in services:
            if not status[s.name] and (s.process is None or s.process.poll() is None):
                status[s.name] = s.answers()
        if any(
            s.process is not None and s.process.poll() is not None and not status[s.name] for s in services
        ):
            break
        time.sleep(1)
    return status
