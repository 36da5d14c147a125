"""Shared fixtures: every test runs against temporary folders, never the developer's data/."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from churn_platform.lib.environment import quiet_telemetry
from churn_platform.simulate.config import SimulationConfig
from churn_platform.simulate.engine import SimulationSummary, simulate

quiet_telemetry()


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the platform's settings at a fresh folder so no test touches ./data."""
    data = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("CHURN_DATA_DIR", str(data))


def make_company(
    root: Path, customers: int = 3000, months: int = 8, seed: int = 7, **kw: object
) -> SimulationSummary:
    config = SimulationConfig(
        customers=customers,
        start=dt.date(2025, 1, 1),
        months=months,
        seed=seed,
        landing=root / "landing",
        ground_truth=root / "ground_truth",
        **kw,  # type: ignore[arg-type]
    )
    return simulate(config)


@pytest.fixture(scope="session")
def company(tmp_path_factory: pytest.TempPathFactory) -> SimulationSummary:
    """A small simulated company shared by read-only tests (3,000 accounts, 8 months)."""
    return make_company(tmp_path_factory.mktemp("company"))


def venv_bin(name: str) -> str:
    import sys

    return str(Path(sys.executable).with_name(name))


os.environ.setdefault("PYTHONHASHSEED", "0")
